"""The files of the reports: summaries and case lists as .xlsx and CSV, a case's trail as PDF
and CSV, and the yearly report as PDF. Their language is Chinese whatever the reader's
interface language: they are filed and printed as the union's own records, like the
mediation documents (cases/mediation/pdf.py), so their headings are written here in Chinese
rather than translated."""
