from django.apps import AppConfig


class HermodCoreConfig(AppConfig):
    name = "hermod_core"
    verbose_name = "Hermod"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        # Registers the OpenAPI description of the X-Api-Key scheme with drf-spectacular.
        from hermod_core.api import openapi  # noqa: F401
