"""The merchant's pages, mounted under /app/ (namespace `web`)."""

from django.urls import path

from imprint.web import privacy_views, views

app_name = "web"

urlpatterns = [
    path("", views.orders, name="orders"),
    path("login/<str:token>", views.login, name="login"),
    path("logout", views.logout, name="logout"),
    path("orders/<int:order_id>", views.order_detail, name="order"),
    path("orders/<int:order_id>/confirm/<str:action>", views.order_confirm, name="order-confirm"),
    path("orders/<int:order_id>/resend", views.order_resend, name="order-resend"),
    path("orders/<int:order_id>/reset", views.order_reset, name="order-reset"),
    path("orders/<int:order_id>/extend", views.order_extend, name="order-extend"),
    path("orders/<int:order_id>/restrict", views.order_restrict, name="order-restrict"),
    path("orders/<int:order_id>/restore", views.order_restore, name="order-restore"),
    path("settings/orders", views.order_settings, name="order-settings"),
    path("settings/orders/sync", views.sync_start, name="sync-start"),
    path("settings/orders/sync/progress", views.sync_progress, name="sync-progress"),
    path("settings/downloads", views.download_settings, name="downloads"),
    path("settings/downloads/products", views.product_limits, name="product-limits"),
    path(
        "settings/downloads/products/<int:product_id>/clear",
        views.product_limits_clear,
        name="product-limits-clear",
    ),
    path("files", views.files, name="files"),
    path("files/upload", views.file_upload, name="file-upload"),
    path("files/products", views.product_picker, name="product-picker"),
    path("files/<int:file_id>/replace", views.file_replace_view, name="file-replace"),
    path("files/<int:file_id>/attach", views.file_attach_view, name="file-attach"),
    path("files/<int:file_id>/delete", views.file_delete_view, name="file-delete"),
    path(
        "files/<int:file_id>/confirm-delete", views.file_confirm_delete, name="file-confirm-delete"
    ),
    path(
        "attachments/<int:attachment_id>/remove",
        views.attachment_remove_view,
        name="attachment-remove",
    ),
    path("email", views.email_settings, name="email"),
    path("email/preview", views.email_preview, name="email-preview"),
    path("email/logo", views.email_logo_upload, name="email-logo-upload"),
    path("email/logo/remove", views.email_logo_remove, name="email-logo-remove"),
    path("email/test", views.email_test, name="email-test"),
    path("privacy/", privacy_views.privacy, name="privacy"),
    path("privacy/<int:request_id>/report", privacy_views.privacy_report, name="privacy-report"),
]
