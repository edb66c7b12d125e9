# Steps the setup scripts share; each script sources this file from the repository's root.

# The repository's .venv (created when missing) with recap installed editable with extra $1
# (`server,predict` for the demo, `test` for the tests).
install_recap() {
  if [ ! -x .venv/bin/python ]; then
    echo "==> creating .venv"
    python3 -m venv .venv
  fi
  echo "==> installing recap with its $1 extra"
  .venv/bin/python -m pip install -q --disable-pip-version-check -e ".[$1]"
}
