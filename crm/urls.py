from django.urls import path

from crm.views import accounts, deals, pipeline, trace

app_name = "crm"

urlpatterns = [
    path("", pipeline.board, name="board"),
    path("forecast/", pipeline.forecast, name="forecast"),
    path("opportunities/", pipeline.opportunity_list, name="opportunities"),
    path("opportunities/new/", pipeline.opportunity_create, name="opportunity-create"),
    path("opportunities/<int:pk>/", pipeline.opportunity_detail, name="opportunity-detail"),
    path("opportunities/<int:pk>/move/", pipeline.opportunity_move, name="opportunity-move"),
    path("opportunities/<int:pk>/stage/", pipeline.opportunity_stage, name="opportunity-stage"),
    path("opportunities/<int:pk>/win/", pipeline.opportunity_win, name="opportunity-win"),
    path("opportunities/<int:pk>/lose/", pipeline.opportunity_lose, name="opportunity-lose"),
    path("opportunities/<int:pk>/lines/", pipeline.opportunity_add_line, name="opportunity-add-line"),
    path(
        "opportunities/<int:pk>/lines/<int:line_id>/remove/",
        pipeline.opportunity_remove_line,
        name="opportunity-remove-line",
    ),
    path(
        "opportunities/<int:pk>/activities/",
        pipeline.opportunity_add_activity,
        name="opportunity-add-activity",
    ),
    path("opportunities/<int:pk>/quote/", pipeline.opportunity_quote, name="opportunity-quote"),
    path("opportunities/<int:pk>/trace/", trace.opportunity_trace_page, name="opportunity-trace"),
    path("quotes/<int:pk>/", deals.quote_detail, name="quote-detail"),
    path("quotes/<int:pk>/submit/", deals.quote_action, {"action": "submit"}, name="quote-submit"),
    path("quotes/<int:pk>/approve/", deals.quote_action, {"action": "approve"}, name="quote-approve"),
    path("quotes/<int:pk>/reject/", deals.quote_action, {"action": "reject"}, name="quote-reject"),
    path("quotes/<int:pk>/accept/", deals.quote_action, {"action": "accept"}, name="quote-accept"),
    path("contracts/", deals.contract_list, name="contracts"),
    path("contracts/<int:pk>/", deals.contract_detail, name="contract-detail"),
    path("contracts/<int:pk>/amend/", deals.contract_amend, name="contract-amend"),
    path("contracts/<int:pk>/close/", deals.contract_close, name="contract-close"),
    path("accounts/", accounts.account_list, name="accounts"),
    path("accounts/new/", accounts.account_create, name="account-create"),
    path("accounts/<int:pk>/", accounts.account_detail, name="account-detail"),
    path("accounts/<int:pk>/contacts/", accounts.account_add_contact, name="account-add-contact"),
    path("accounts/<int:pk>/activities/", accounts.account_add_activity, name="account-add-activity"),
    path("activities/", accounts.my_activities, name="activities"),
    path("activities/<int:pk>/complete/", accounts.activity_complete, name="activity-complete"),
]
