from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from ponder.agents.core.errors import KnowledgeError
from ponder.knowledge import IngestReport, KnowledgeStore, ingest, title_of


def _texts(store: KnowledgeStore, query: str, k: int = 10) -> list[str]:
    return [e.text for e in store.query(query, k=k)]


def test_ingest_a_folder_stores_documents_and_skips_the_rest(
    docs: Path, store: KnowledgeStore
) -> None:
    report = ingest(docs, store)

    assert report == IngestReport(files_added=2, files_skipped=1, chunks_added=2)
    [best] = store.query("cats purr", k=1)
    assert (best.path, best.title, best.chunk_index) == ("docs/animals/cats.md", "Cats", 0)
    assert best.source == str((docs / "animals" / "cats.md").resolve())


def test_ingest_reports_progress_per_document_in_sorted_order(
    docs: Path, store: KnowledgeStore
) -> None:
    calls: list[tuple[int, int, str]] = []

    ingest(docs, store, progress=lambda done, total, path: calls.append((done, total, path.name)))

    assert calls == [(1, 2, "cats.md"), (2, 2, "volcanoes.txt")]


def test_reingesting_unchanged_files_adds_nothing(docs: Path, store: KnowledgeStore) -> None:
    ingest(docs, store, max_chars=40, overlap=10)
    ids = store.ids()

    report = ingest(docs, store, max_chars=40, overlap=10)

    assert report == IngestReport(files_unchanged=2, files_skipped=1)
    assert store.ids() == ids


def test_a_modified_file_replaces_its_chunks(docs: Path, store: KnowledgeStore) -> None:
    cats = docs / "animals" / "cats.md"
    ingest(docs, store, max_chars=40, overlap=10)
    old_count = store.count()
    cats.write_text("# Dogs\n\nDogs bark.\n")

    report = ingest(docs, store, max_chars=40, overlap=10)

    assert (report.files_replaced, report.files_unchanged) == (1, 1)
    assert report.chunks_added == 1
    assert store.count() == old_count - report.chunks_removed + 1
    stored = store.query("dogs bark", k=10, where={"source": str(cats.resolve())})
    assert [(e.text, e.title) for e in stored] == [("# Dogs\n\nDogs bark.", "Dogs")]
    assert store.sources()[str(cats.resolve())] == hashlib.sha256(cats.read_bytes()).hexdigest()


def test_new_chunking_settings_rechunk_unchanged_files(docs: Path, store: KnowledgeStore) -> None:
    ingest(docs, store, max_chars=800, overlap=120)

    report = ingest(docs, store, max_chars=40, overlap=10)

    assert report.files_replaced == 2
    assert store.count() == report.chunks_added


def test_a_non_utf8_file_fails_clearly_and_stored_chunks_survive(
    docs: Path, store: KnowledgeStore
) -> None:
    ingest(docs, store)
    before = store.ids()
    bad = docs / "animals" / "cats.md"
    bad.write_bytes(b"# Cats\n\ncaf\xe9 au lait\n")  # Latin-1, not UTF-8

    with pytest.raises(KnowledgeError, match=r"cats\.md.*not UTF-8.*0xe9"):
        ingest(docs, store)

    assert store.ids() == before
    assert "Cats purr" in store.query("cats purr", k=1)[0].text


def test_a_crash_between_add_and_remove_is_repaired_by_the_next_ingest(
    docs: Path, store: KnowledgeStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    cats = docs / "animals" / "cats.md"
    ingest(cats, store)
    cats.write_text("# Cats\n\nCats are now dogs.\n")

    def crash(**_: object) -> int:
        raise KeyboardInterrupt

    with monkeypatch.context() as patch:
        patch.setattr(store, "delete", crash)
        with pytest.raises(KeyboardInterrupt):
            ingest(cats, store)
    assert store.count() == 2  # both versions: nothing lost

    report = ingest(cats, store)

    assert report == IngestReport(files_replaced=1, chunks_removed=1)
    assert _texts(store, "cats") == ["# Cats\n\nCats are now dogs."]


def test_emptying_a_file_removes_its_chunks(docs: Path, store: KnowledgeStore) -> None:
    volcanoes = docs / "volcanoes.txt"
    ingest(volcanoes, store)
    volcanoes.write_text("\n")

    report = ingest(volcanoes, store)

    assert report == IngestReport(files_replaced=1, chunks_removed=1)
    assert store.count() == 0


def test_ingesting_a_single_file_uses_its_name_as_path(docs: Path, store: KnowledgeStore) -> None:
    ingest(docs / "volcanoes.txt", store)

    [evidence] = store.query("lava", k=1)

    assert (evidence.path, evidence.title) == ("volcanoes.txt", "volcanoes")


@pytest.mark.parametrize("name", ["missing", "logo.png"])
def test_a_missing_or_unsupported_path_is_refused(
    docs: Path, store: KnowledgeStore, name: str
) -> None:
    with pytest.raises(KnowledgeError, match=f"Cannot ingest .*{name}"):
        ingest(docs / name, store)


def test_invalid_chunk_settings_fail_before_any_write(docs: Path, store: KnowledgeStore) -> None:
    with pytest.raises(ValueError, match="overlap"):
        ingest(docs, store, max_chars=100, overlap=100)

    assert store.count() == 0


@pytest.mark.parametrize(
    ("text", "name", "title"),
    [
        ("Intro\n\n## Usage ##\n\n# Later", "guide.md", "Usage"),
        ("```sh\n# a comment\n```\n# Real title", "guide.md", "Real title"),
        ("# Looks like a heading", "notes.txt", "notes"),
        ("no heading at all", "guide.md", "guide"),
    ],
)
def test_title_is_the_first_markdown_heading_or_the_stem(text: str, name: str, title: str) -> None:
    assert title_of(text, Path(name)) == title
