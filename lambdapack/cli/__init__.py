"""Thin click commands: parse, call one library function, render (STYLE.md 1)."""
