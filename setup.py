"""Package list for the folder -> import-name mapping in pyproject.toml.

``slips_files/`` installs as ``flowalerts`` and ``modules/`` as
``flowalerts.modules``; setuptools cannot discover packages across such a
mapping by itself, so they are listed here. Everything else is in
pyproject.toml.
"""

from setuptools import find_namespace_packages, setup


def packages_under(folder: str, import_name: str) -> list[str]:
    # Namespace discovery also lists the data folders (feeds/, ports_info/ ...),
    # so their files ship as package data of those folders.
    found = find_namespace_packages(folder, exclude=["*__pycache__*"])
    return [import_name] + [f"{import_name}.{name}" for name in found]


setup(packages=packages_under("slips_files", "flowalerts") + packages_under("modules", "flowalerts.modules"))
