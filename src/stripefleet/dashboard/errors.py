"""The dashboard's error handlers (its errors are ``common.web.ApiError``)."""
