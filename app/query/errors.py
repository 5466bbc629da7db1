"""Errors of the read, export and deletion API (rendered as problem+json by app.errors)."""

from __future__ import annotations

from app.errors import AppError


class InvalidQuery(AppError):
    status = 400
    title = "Invalid query"
    type = "/problems/invalid-query"


class ConfirmationRequired(AppError):
    status = 400
    title = "Confirmation required"
    type = "/problems/confirmation-required"
