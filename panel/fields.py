"""Form fields for the panel: sizes typed with a binary unit, address lists typed one per line."""

import re
from decimal import Decimal, InvalidOperation

from django import forms
from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _

from domains.units import FACTORS, MIB

# The units a quota is typed in; reading and bounding sizes is domains.units' job.
UNITS = [("MiB", "MiB"), ("GiB", "GiB"), ("TiB", "TiB")]


class SizeWidget(forms.MultiWidget):
    template_name = "panel/widgets/size.html"

    def __init__(self, attrs=None):
        number = forms.NumberInput(attrs={"min": "0", "step": "any", "inputmode": "decimal"})
        unit = forms.Select(choices=UNITS, attrs={"aria-label": _("Unit")})
        super().__init__([number, unit], attrs)

    def decompress(self, value):
        if value in (None, ""):
            return [None, "GiB"]
        value = int(value)
        for unit in ("TiB", "GiB", "MiB"):
            factor = FACTORS[unit]
            if value >= factor and value % (factor // 1024 or 1) == 0:
                amount = Decimal(value) / factor
                return [f"{amount.normalize():f}", unit]
        return [f"{(Decimal(value) / MIB).normalize():f}", "MiB"]


class SizeField(forms.MultiValueField):
    """A size in bytes, typed as a number and a binary unit (1 GiB = 1024 MiB); 0 = unlimited."""

    widget = SizeWidget

    def __init__(self, **kwargs):
        fields = [
            forms.DecimalField(min_value=0, max_digits=20, decimal_places=3, required=False),
            # The unit is always sent (a select): only an empty number means "no value".
            forms.ChoiceField(choices=UNITS, required=False),
        ]
        kwargs.setdefault("require_all_fields", False)
        super().__init__(fields=fields, **kwargs)

    def compress(self, data_list):
        if not data_list or data_list[0] in (None, ""):
            if self.required:
                raise ValidationError(self.error_messages["required"], code="required")
            return None
        number, unit = data_list
        try:
            return int(Decimal(number) * FACTORS[unit or "GiB"])
        except (InvalidOperation, KeyError) as exc:
            raise ValidationError(_("Give a number and a unit."), code="invalid") from exc


class AddressListField(forms.CharField):
    """Addresses, one per line (commas and spaces separate too); each is checked by the service."""

    widget = forms.Textarea(attrs={"rows": 4, "spellcheck": "false", "autocapitalize": "none"})

    def to_python(self, value):
        value = super().to_python(value) or ""
        return [part for part in re.split(r"[\s,;]+", value) if part]

    def prepare_value(self, value):
        if isinstance(value, list | tuple):
            return "\n".join(value)
        return value
