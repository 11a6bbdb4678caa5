"""JupyterLab server configuration for the Opsbook Galata tests (started by start-lab.mjs).

Never use this configuration for anything else: it removes Jupyter's security protections.
"""

import importlib.util
import os
from pathlib import Path

from jupyterlab.galata import configure_jupyter_server

c = get_config()  # noqa: F821 (provided by traitlets when it loads this file)

configure_jupyter_server(c)

c.ServerApp.ip = "127.0.0.1"
c.ServerApp.allow_root = True
c.ServerApp.port = int(os.environ["OPSBOOK_UI_PORT"])
c.ServerApp.root_dir = os.environ["JUPYTERLAB_GALATA_ROOT_DIR"]

# The freshly built labextension comes first, ahead of any copy installed with the Python package,
# so the tests always exercise the current build. start-lab.mjs links it as @opsbook/jupyterlab.
c.LabServerApp.extra_labextensions_path = [
    str(Path(importlib.util.find_spec("jupyterlab.galata").origin).parent),
    os.environ["OPSBOOK_UI_LABEXTENSIONS"],
]

if importlib.util.find_spec("opsbook.serverextension") is not None:
    c.ServerApp.jpserver_extensions = {"opsbook": True}
