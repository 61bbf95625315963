from mathless.cli.main import run

run()
