from rest_framework.routers import SimpleRouter

from crm.api import views

router = SimpleRouter()
router.register("accounts", views.AccountViewSet, basename="account")
router.register("contacts", views.ContactViewSet, basename="contact")
router.register("activities", views.ActivityViewSet, basename="activity")
router.register("pipeline-stages", views.StageViewSet, basename="pipeline-stage")
router.register("opportunities", views.OpportunityViewSet, basename="opportunity")
router.register("quotes", views.QuoteViewSet, basename="quote")
router.register("contracts", views.ContractViewSet, basename="contract")

urlpatterns = router.urls
