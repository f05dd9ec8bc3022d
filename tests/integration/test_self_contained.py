"""The project travels alone: nothing it builds, runs or tests reads a path
outside its own tree (a user's clone has nothing beside it). Every tracked
text file is searched for the ways a path can leave the tree."""
import re
import subprocess
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent.parent

# A path that climbs out of the repository: a relative path that starts by
# going up (a folder beside the clone), '..' joined to the root's parent,
# the repository's parent as a Path. Paths that go up from inside the tree
# start with a variable or a name ("${CMAKE_CURRENT_SOURCE_DIR}/../base").
LEAVES_TREE = [
    re.compile(r"(?<![\w.}/$])\.\./\w"),
    re.compile(r"REPO\.parent\b(?!\.)"),
    re.compile(r"REPO\.parent\s*/"),
    re.compile(r"""os\.path\.join\(\s*(REPO|ROOT)\s*,\s*["']\.\.["']"""),
    re.compile(r"""path\.join\(\s*REPO\s*,\s*'\.\.'"""),
    re.compile(r"CMAKE_SOURCE_DIR\}/\.\."),
]
# In scripts/, $here is the project's root: one '..' from it leaves the tree.
LEAVES_TREE_FROM_ROOT = re.compile(r"\$here/\.\.")
THIS = Path(__file__).resolve()


def tracked_text_files():
    out = subprocess.run(["git", "-C", str(REPO), "ls-files", "-z"], capture_output=True,
                         check=True).stdout.decode().split("\0")
    for name in out:
        if not name or name.startswith("tests/corpus/") or name == "package-lock.json":
            continue
        path = REPO / name
        if path.resolve() == THIS or not path.is_file():
            continue
        try:
            yield name, path.read_text()
        except UnicodeDecodeError:
            continue  # a binary (image, capture)


def test_no_tracked_file_reads_outside_the_project():
    found = []
    for name, text in tracked_text_files():
        for n, line in enumerate(text.splitlines(), 1):
            patterns = LEAVES_TREE + ([LEAVES_TREE_FROM_ROOT]
                                      if name.startswith(("scripts/", ".ci/")) else [])
            for pattern in patterns:
                if pattern.search(line):
                    found.append(f"{name}:{n}: {line.strip()}")
    assert not found, "paths outside the project:\n" + "\n".join(found)


def test_the_corpus_is_in_the_project_with_its_licence():
    pcaps = sorted((REPO / "tests" / "corpus" / "pcap").iterdir())
    golden = REPO / "tests" / "corpus" / "golden"
    assert len(pcaps) == 406
    for p in pcaps:
        assert (golden / (p.name + ".jsonl")).is_file(), p.name
    licence = (REPO / "tests" / "corpus" / "LICENSE").read_text()
    assert "tcpdump" in licence and "Redistribution and use" in licence


def test_the_dockerfile_copies_every_folder_the_build_reads():
    """The image cannot be built here (no Docker engine): this keeps its
    COPY lines in step with the folders CMakeLists.txt builds from."""
    cmake = (REPO / "CMakeLists.txt").read_text() + (REPO / "tools" / "CMakeLists.txt").read_text()
    read = set(re.findall(r"\$\{CMAKE_SOURCE_DIR\}/([a-z_]+)/", cmake))
    read |= set(re.findall(r"\$\{CMAKE_CURRENT_SOURCE_DIR\}/\.\./([a-z_]+)/", cmake))
    read |= {"tools"}  # add_subdirectory(tools)
    read -= {"tests"}  # the image builds no tests
    copied = set(re.findall(r"^COPY (?:--\S+ )?([a-z_]+) ", (REPO / "Dockerfile").read_text(),
                            re.M))
    assert read <= copied, f"Dockerfile does not COPY: {sorted(read - copied)}"
