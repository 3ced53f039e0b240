"""These tests share the seeded tenant; contracts are tenant-wide promises that every later
entitlement and move check would see, so each test's contracts end with the test."""

from tests.support.segmentation_builders import _contracts_end_with_the_test

__all__ = ["_contracts_end_with_the_test"]
