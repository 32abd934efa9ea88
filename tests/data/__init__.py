"""Tests of data: sanitization rules, engine and leak check."""
