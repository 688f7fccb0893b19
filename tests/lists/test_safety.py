"""Hostile and damaged inputs: no entity expansion, no network, errors that name the place, nothing lost."""

from __future__ import annotations

import gzip
from pathlib import Path

import pytest

from service.errors import ListImportError
from service.lists import import_list, load_compiled_list, save_compiled_list
from service.lists.storage import compiled_path, read_list_meta

BILLION_LAUGHS = """<?xml version="1.0"?>
<!DOCTYPE lolz [
 <!ENTITY lol "lol">
 <!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
 <!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
 <!ENTITY lol4 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;">
]>
<{root}><x>&lol4;</x></{root}>
"""

EXTERNAL_ENTITY = """<?xml version="1.0"?>
<!DOCTYPE foo [ <!ENTITY xxe SYSTEM "http://127.0.0.1:9/secret"> ]>
<{root}><x>&xxe;</x></{root}>
"""

LOCAL_FILE_ENTITY = """<?xml version="1.0"?>
<!DOCTYPE foo [ <!ENTITY xxe SYSTEM "file:///etc/passwd"> ]>
<{root}><x>&xxe;</x></{root}>
"""

XML_SOURCES = [("ofac-sdn", "sdn.xml", "sdnList"), ("ofac-cons", "CONS_ENHANCED.XML", "sanctionsData"),
               ("un", "un.xml", "CONSOLIDATED_LIST"), ("eu", "eu.xml", "export")]


@pytest.mark.parametrize("template", [BILLION_LAUGHS, EXTERNAL_ENTITY, LOCAL_FILE_ENTITY])
@pytest.mark.parametrize(("source", "name", "root"), XML_SOURCES)
def test_xml_with_dtd_or_entities_is_refused(tmp_path: Path, template: str, source: str, name: str,
                                             root: str) -> None:
    (tmp_path / name).write_text(template.format(root=root), encoding="utf-8")
    with pytest.raises(ListImportError, match="refused: the XML declares a DTD or entities"):
        import_list(source, tmp_path / name)


def test_malformed_xml_names_line_and_column(fixtures: Path, tmp_path: Path) -> None:
    lines = (fixtures / "un" / "UN_consolidated.xml").read_text(encoding="utf-8").splitlines()
    lines[9] = lines[9].replace("</", "<", 1)
    (tmp_path / "un.xml").write_text("\n".join(lines), encoding="utf-8")
    with pytest.raises(ListImportError, match=r"un.xml: line \d+, column \d+: malformed XML: mismatched tag"):
        import_list("un", tmp_path / "un.xml")


def test_truncated_xml_is_refused(fixtures: Path, tmp_path: Path) -> None:
    text = (fixtures / "eu" / "eu_fsf.xml").read_text(encoding="utf-8")
    (tmp_path / "eu.xml").write_text(text[: len(text) // 2], encoding="utf-8")
    with pytest.raises(ListImportError, match=r"eu\.xml: line .*malformed XML"):
        import_list("eu", tmp_path)


def test_unknown_source_and_missing_path(tmp_path: Path) -> None:
    with pytest.raises(ListImportError, match="unknown source 'ofac'"):
        import_list("ofac", tmp_path)
    with pytest.raises(ListImportError, match="no such file or folder"):
        import_list("un", tmp_path / "absent.xml")


def test_failed_import_keeps_the_previous_list(fixtures: Path, tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    good = import_list("un", fixtures / "un")
    path = save_compiled_list(good, data_dir)
    before = path.read_bytes()
    broken = tmp_path / "broken.xml"
    broken.write_text((fixtures / "un" / "UN_consolidated.xml").read_text(encoding="utf-8")
                      .replace("<REFERENCE_NUMBER>CDe.001</REFERENCE_NUMBER>", "<REFERENCE_NUMBER/>"),
                      encoding="utf-8")
    with pytest.raises(ListImportError, match="no <REFERENCE_NUMBER>"):
        save_compiled_list(import_list("un", broken), data_dir)
    assert path.read_bytes() == before
    assert sorted(p.name for p in path.parent.iterdir()) == ["un-consolidated.json.gz"]


def test_interrupted_write_leaves_no_temp_file_and_keeps_the_old_list(fixtures: Path, tmp_path: Path,
                                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    good = import_list("un", fixtures / "un")
    path = save_compiled_list(good, tmp_path)
    before = path.read_bytes()

    def fail(*args: object, **kwargs: object) -> None:
        raise OSError("disk full")

    monkeypatch.setattr("service.lists.storage.os.replace", fail)
    with pytest.raises(OSError, match="disk full"):
        save_compiled_list(good, tmp_path)
    assert path.read_bytes() == before
    assert [p.name for p in path.parent.iterdir()] == ["un-consolidated.json.gz"]


def test_damaged_compiled_files_are_detected(fixtures: Path, tmp_path: Path) -> None:
    path = save_compiled_list(import_list("un", fixtures / "un"), tmp_path)
    raw = gzip.decompress(path.read_bytes())
    header, body = raw.split(b"\n", 1)
    # one entry edited without updating the checksum
    path.write_bytes(gzip.compress(header + b"\n" + body.replace(b"ERIC BADEGE", b"ERIC BADEGX")))
    with pytest.raises(ListImportError, match="entries do not match their checksum"):
        load_compiled_list(path)
    path.write_bytes(path.read_bytes()[:200])
    with pytest.raises(ListImportError, match="damaged compiled list"):
        load_compiled_list(path)
    path.write_bytes(b"not gzip at all")
    with pytest.raises(ListImportError, match="damaged compiled list"):
        read_list_meta(path)
    other = compiled_path(tmp_path, "other")
    other.write_bytes(gzip.compress(b'{"format": "something-else"}\n[]'))
    with pytest.raises(ListImportError, match="not a compiled list file"):
        load_compiled_list(other)
