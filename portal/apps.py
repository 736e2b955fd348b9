from django.apps import AppConfig


class PortalConfig(AppConfig):
    name = "portal"
    verbose_name = "Hermod console"

    def ready(self) -> None:
        from portal.signin import connect_second_factor_audit

        connect_second_factor_audit()
