"""Django's own form messages whose Chinese translation we correct.

Django's zh_Hans catalog ends some messages our forms show with an ASCII full stop ("确认小数不
超过 2 位.") or words them awkwardly. The project's catalog (LOCALE_PATHS) takes precedence over
Django's, so these messages are marked here, word for word as Django marks them, for
`make messages` to extract; their Chinese is in locale/zh_Hans. Nothing imports this module.
"""

from django.utils.translation import ngettext_lazy

OVERRIDDEN = (
    # django.core.validators.DecimalValidator (forms.DecimalField)
    ngettext_lazy(
        "Ensure that there are no more than %(max)s digit in total.",
        "Ensure that there are no more than %(max)s digits in total.",
        "max",
    ),
    ngettext_lazy(
        "Ensure that there are no more than %(max)s decimal place.",
        "Ensure that there are no more than %(max)s decimal places.",
        "max",
    ),
    ngettext_lazy(
        "Ensure that there are no more than %(max)s digit before the decimal point.",
        "Ensure that there are no more than %(max)s digits before the decimal point.",
        "max",
    ),
    # django.core.validators.MinLengthValidator, MaxLengthValidator (max_length, min_length)
    ngettext_lazy(
        "Ensure this value has at least %(limit_value)d character (it has %(show_value)d).",
        "Ensure this value has at least %(limit_value)d characters (it has %(show_value)d).",
        "limit_value",
    ),
    ngettext_lazy(
        "Ensure this value has at most %(limit_value)d character (it has %(show_value)d).",
        "Ensure this value has at most %(limit_value)d characters (it has %(show_value)d).",
        "limit_value",
    ),
)
