"""Tables as files people open in Excel: CSV (UTF-8 with a byte-order mark, without which
Excel reads Chinese as another code page) or XLSX (openpyxl), headers in the service's
language."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Sequence
from typing import Any, Literal
from urllib.parse import quote

from fastapi.responses import Response
from openpyxl import Workbook

TableFormat = Literal["csv", "xlsx"]
MEDIA = {
    "csv": "text/csv; charset=utf-8",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
}


Sheet = tuple[str, Sequence[str], Iterable[Sequence[Any]]]  # (title, headers, rows)


def table_file(
    name: str, headers: Sequence[str], rows: Iterable[Sequence[Any]], fmt: TableFormat
) -> Response:
    """The table as a download named `name`.csv or .xlsx (a Chinese name kept, RFC 5987)."""
    return workbook_file(name, [(name, headers, rows)], fmt)


def workbook_file(name: str, sheets: Sequence[Sheet], fmt: TableFormat) -> Response:
    """Several tables as one download (a report's sections): a sheet each in XLSX; in CSV one
    after another, each under its title when there are several, a blank line between."""
    if fmt == "xlsx":
        book = Workbook()
        book.remove(book.active)
        for title, headers, rows in sheets:
            sheet = book.create_sheet(title[:31])  # Excel's limit on a sheet's name
            sheet.append(list(headers))
            for row in rows:
                sheet.append(["" if v is None else v for v in row])
        buffer = io.BytesIO()
        book.save(buffer)
        body = buffer.getvalue()
    else:
        text = io.StringIO()
        writer = csv.writer(text)
        for i, (title, headers, rows) in enumerate(sheets):
            if i:
                writer.writerow([])
            if len(sheets) > 1:
                writer.writerow([title])
            writer.writerow(headers)
            writer.writerows(["" if v is None else v for v in row] for row in rows)
        body = ("\ufeff" + text.getvalue()).encode("utf-8")
    filename = quote(f"{name}.{fmt}")
    return Response(
        body,
        media_type=MEDIA[fmt],
        headers={"Content-Disposition": f"attachment; filename*=UTF-8''{filename}"},
    )
