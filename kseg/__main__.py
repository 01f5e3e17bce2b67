from kseg.cli import app

app(prog_name="kseg")
