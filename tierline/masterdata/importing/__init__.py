"""Batch imports of CSV/XLSX files (and API batches): validate everything, then apply all rows
in one transaction through COPY-based staging, or nothing."""

from tierline.masterdata.importing.reader import FileRejected
from tierline.masterdata.importing.service import ImportResult, import_errors, run_import

__all__ = ["FileRejected", "ImportResult", "import_errors", "run_import"]
