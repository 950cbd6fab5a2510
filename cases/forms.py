from django import forms
from django.utils.translation import gettext_lazy as _

# The longest withdrawal reason kept on the trail (the API's WithdrawSerializer and the page's
# form alike).
WITHDRAW_REASON_MAX_LENGTH = 2000


class WithdrawForm(forms.Form):
    """撤回 from the case page: the same reason the API takes."""

    reason = forms.CharField(label=_("Reason"), max_length=WITHDRAW_REASON_MAX_LENGTH)
