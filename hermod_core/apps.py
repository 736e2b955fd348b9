from django.apps import AppConfig


class HermodCoreConfig(AppConfig):
    name = "hermod_core"
    verbose_name = "Hermod"
    default_auto_field = "django.db.models.BigAutoField"
