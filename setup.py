"""Package layout (everything else is in pyproject.toml).

``firmware_templates/`` stays at the top of the repository and ships inside the wheel as the package
``l1ml._firmware_templates``; ``l1ml.backends.templates`` loads it with ``importlib.resources``. A
package-dir mapping plus the auto-discovered ``l1ml`` packages is not expressible in pyproject's
``[tool.setuptools]`` table, hence this file. Works for ``pip wheel .`` and ``pip install -e .``.
"""

from setuptools import find_namespace_packages, setup

setup(
    # namespace discovery: l1ml/ir and l1ml/frontend have no __init__.py, and find_packages skips them
    packages=[*find_namespace_packages(include=["l1ml", "l1ml.*"], exclude=["*.__pycache__"]),
              "l1ml._firmware_templates"],
    package_dir={"l1ml._firmware_templates": "firmware_templates"},
    package_data={"l1ml._firmware_templates": ["verilog/*.v", "hls/*.h"]},
)
