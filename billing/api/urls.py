from rest_framework.routers import SimpleRouter

from billing.api import views

router = SimpleRouter()
router.register("billing-runs", views.BillingRunViewSet, basename="billing-run")
router.register(
    r"billing-runs/(?P<run_id>\d+)/exceptions", views.RunExceptionViewSet, basename="billing-run-exception"
)
router.register("invoices", views.InvoiceViewSet, basename="invoice")
router.register("credit-notes", views.CreditNoteViewSet, basename="credit-note")
router.register("tax-codes", views.TaxCodeViewSet, basename="tax-code")

urlpatterns = router.urls
