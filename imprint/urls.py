from django.urls import include, path

from imprint.delivery import views as delivery_views
from imprint.emails import views as email_views
from imprint.ops import views as ops_views
from imprint.shopify import install_views
from imprint.shopify import views as shopify_views
from imprint.web import views as web_views

urlpatterns = [
    path("webhooks/shopify", shopify_views.webhook, name="shopify-webhook"),
    path("auth/install", install_views.install, name="shopify-auth-install"),
    path("auth/callback", install_views.callback, name="shopify-auth-callback"),
    path("auth/patch-id-token", install_views.patch_id_token, name="shopify-patch-id-token"),
    path("d/<str:token>", delivery_views.download_page, name="download-page"),
    path("d/<str:token>/file", delivery_views.download_file, name="download-file"),
    path("dev/mailbox", email_views.mailbox, name="mailbox"),
    path("dev/mailbox/<int:message_id>", email_views.mailbox_message, name="mailbox-message"),
    path("healthz", web_views.healthz, name="healthz"),
    path("readyz", ops_views.readyz, name="readyz"),
    path("metrics", ops_views.metrics, name="metrics"),
    path("app/", include("imprint.web.urls")),
    path("brand/<int:shop_id>/logo/<str:version>", web_views.email_logo, name="email-logo"),
    path("", web_views.home, name="home"),
]
