"""Tests of the background work: channels, jobs, policies."""
