"""Fixtures live in triton_fixtures.py (a unique module name, importable by the test modules)."""
import sys
from pathlib import Path

if str(Path(__file__).parent) not in sys.path:
    sys.path.insert(0, str(Path(__file__).parent))

from triton_fixtures import tiny_models_dir, tiny_store, triton_server, triton_venv  # noqa: F401
