#!/usr/bin/env bash
# Wheels of what benchmarks/gpu_check.sh needs beside CUDA builds of PyTorch and JAX (Snakemake
# and jsonschema with their dependencies), for a GPU node that has those builds but no network.
# Run here, where pip reaches a registry; carry OUT to the node, then there:
#
#     python3 -m pip install --no-index --no-deps --target /tmp/site OUT/*.whl
#     PYTHONPATH=/tmp/site GPU_PYTHON=python3 bash benchmarks/gpu_check.sh results/gpu_check
#
#     bash benchmarks/offline_wheels.sh OUT [PYTHON_VERSION]   # default 3.12, the node's Python
#
# Pure-Python packages are built here as py3 wheels; the compiled ones are fetched again for the
# node's Python version (manylinux x86_64). Packages such an image already has (numpy, pandas,
# matplotlib, PyYAML, requests, ...) are not among Snakemake's own dependencies listed here.
set -euo pipefail
cd "$(dirname "$0")/.."
OUT="${1:?usage: offline_wheels.sh OUT [PYTHON_VERSION]}"
PYVER="${2:-3.12}"
PIP=("$PWD/.venv/bin/python" -m pip)
mkdir -p "$OUT"
SNAKEMAKE_VERSION="$("${PIP[0]}" -c 'import snakemake; print(snakemake.__version__)')"
# Snakemake's closure as resolved here, as wheels (sdist-only ones, e.g. connection_pool, are built).
"${PIP[@]}" wheel --quiet --wheel-dir "$OUT" "snakemake[reports]==$SNAKEMAKE_VERSION" "jsonschema>=4.20"
# Drop what a CUDA PyTorch/JAX image already holds; re-fetch the compiled rest for PYVER.
cd "$OUT"
for wheel in numpy-* pandas-* matplotlib-* PyYAML-* pyyaml-* requests-* urllib3-* idna-* certifi-* \
    charset_normalizer-* jinja2-* Jinja2-* markupsafe-* MarkupSafe-* psutil-* attrs-* typing_extensions-* \
    pygments-* Pygments-* tabulate-*; do
    rm -f $wheel
done
for wheel in *.whl; do
    case "$wheel" in
        *-py3-none-any.whl | *-py2.py3-none-any.whl) ;;
        *)
            name="${wheel%%-*}"
            version="$(echo "$wheel" | cut -d- -f2)"
            rm "$wheel"
            "${PIP[@]}" download --quiet --no-deps --only-binary=:all: --python-version "$PYVER" \
                --implementation cp --platform manylinux_2_28_x86_64 --platform manylinux_2_17_x86_64 \
                --platform manylinux2014_x86_64 --platform manylinux_2_5_x86_64 --platform manylinux1_x86_64 \
                --dest . "$name==$version"
            ;;
    esac
done
echo "$(ls ./*.whl | wc -l) wheels in $OUT ($(du -sh . | cut -f1)) for Python $PYVER"
