"""``python -m relusum``: the command line."""

from relusum.cli import run

if __name__ == "__main__":
    run()
