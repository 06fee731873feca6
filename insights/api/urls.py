from rest_framework.routers import SimpleRouter

from insights.api import views

router = SimpleRouter()
router.register("insights", views.InsightViewSet, basename="insight")
router.register("insight-runs", views.InsightRunViewSet, basename="insight-run")

urlpatterns = router.urls
