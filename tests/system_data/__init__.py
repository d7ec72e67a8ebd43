"""Small copies, in the real file formats, of the system data the offline builders read (WordNet's
data files, the Python docs' reST sources, gettext catalogs): a test of a code path writes one and
runs on any machine; only the tests of the installed data need the Debian packages."""
import sys

# The Debian packages of the installed data (docs/tasks.md, "Offline task datasets"), which the skip
# reasons of their tests name.
WORDNET_PACKAGE = 'wordnet-base'
DOCS_PACKAGE = f'python3.{sys.version_info.minor}-doc'  # the docs of the running Python
