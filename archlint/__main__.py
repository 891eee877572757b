from archlint.cli import run

run()
