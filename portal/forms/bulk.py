"""The bulk-provisioning upload: the provisioning template plus the CSV file."""

from django import forms

from portal.forms.provision import ProvisionTemplateForm


class BulkUploadForm(ProvisionTemplateForm):
    file = forms.FileField(
        label="CSV of users",
        help_text="A header line with userid and optionally CN, emailAddress, O, OU … "
        "(they override the template for that user).",
    )

    field_order = ["client", "file"]
