"""Hostile servers, bad input and faults: nothing hangs, nothing grows without bound, nothing is lost.

Every case these modules try is recorded (see :mod:`tests.hostile._support`);
``tests/hostile/make_reliability_doc.py`` runs them and turns the records into
``docs/reliability.rst``.
"""
