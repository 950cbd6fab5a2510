import csv
import io

from django.core.files.uploadedfile import SimpleUploadedFile


def declarations_csv(rows):
    """A declarations file as a county finance officer uploads it: Chinese headers, UTF-8 with
    a byte-order mark (as Excel saves CSV)."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["工会", "期间", "工资总额", "职工人数", "会员人数"])
    writer.writerows(rows)
    return SimpleUploadedFile("declarations.csv", out.getvalue().encode("utf-8-sig"), "text/csv")
