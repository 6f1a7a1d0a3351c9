"""Writes the records of the hostile suite as JSON at the end of the session.

Only when the environment variable ``DUGONG_RELIABILITY_JSON`` names a file
(``make_reliability_doc.py`` sets it): a plain ``pytest`` run writes nothing.
"""

from __future__ import annotations

import dataclasses
import json
import os
import platform
import sys
from collections.abc import Iterator

import pytest

import dugong
from dugong import MAX_HEADER_FIELDS, MAX_HEADER_SIZE, MAX_INFORMATIONAL_RESPONSES, MAX_LINE_SIZE
from tests.hostile._support import JSON_ENV, RECORDS


@pytest.fixture(scope="session", autouse=True)
def reliability_records() -> Iterator[None]:
    """Collect the records of the session; write them to ``$DUGONG_RELIABILITY_JSON``."""
    yield
    path = os.environ.get(JSON_ENV)
    if not path:
        return
    document = {
        "dugong": dugong.__version__,
        "python": platform.python_version(),
        "platform": sys.platform,
        "limits": {
            "MAX_LINE_SIZE": MAX_LINE_SIZE,
            "MAX_HEADER_SIZE": MAX_HEADER_SIZE,
            "MAX_HEADER_FIELDS": MAX_HEADER_FIELDS,
            "MAX_INFORMATIONAL_RESPONSES": MAX_INFORMATIONAL_RESPONSES,
        },
        "records": [dataclasses.asdict(record) for record in RECORDS],
    }
    with open(path, "w", encoding="utf-8") as file:
        json.dump(document, file, indent=1)
        file.write("\n")
