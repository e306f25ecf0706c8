@echo off
rem Runs Context IQ on embedded defaults on Windows: the same steps as `make run`.
cd /d "%~dp0"
if not exist .venv\.installed (
  echo ==^> creating virtual environment in .venv
  py -3.11 -m venv .venv || python -m venv .venv
  .venv\Scripts\python -m pip install -q --upgrade pip
  echo ==^> installing Python dependencies ^(first time: a minute or two^)
  .venv\Scripts\python -m pip install -q -e ".[dev]" || exit /b 1
  type nul > .venv\.installed
)
where npm >nul 2>nul && (
  pushd frontend
  if not exist node_modules call npm ci
  call npm run build
  popd
)
.venv\Scripts\contextiq serve --bootstrap %*
