"""Contains all the data models used in inputs/outputs"""

from .account_answer import AccountAnswer
from .account_page import AccountPage
from .address import Address
from .address_in import AddressIn
from .adjustment import Adjustment
from .adjustment_in import AdjustmentIn
from .audit_entry import AuditEntry
from .audit_entry_details_type_0 import AuditEntryDetailsType0
from .audit_page import AuditPage
from .badge import Badge
from .badge_spell import BadgeSpell
from .balance import Balance
from .buyer import Buyer
from .buyer_in import BuyerIn
from .case import Case
from .case_action_in import CaseActionIn
from .case_detail import CaseDetail
from .case_in import CaseIn
from .case_page import CasePage
from .case_payment import CasePayment
from .case_step import CaseStep
from .case_step_details_type_0 import CaseStepDetailsType0
from .case_step_evidence_type_0_item import CaseStepEvidenceType0Item
from .change import Change
from .change_changes import ChangeChanges
from .change_page import ChangePage
from .change_terms import ChangeTerms
from .deadline import Deadline
from .disable_in import DisableIn
from .disruption_answer import DisruptionAnswer
from .disruption_in import DisruptionIn
from .disruption_page import DisruptionPage
from .endpoint_in import EndpointIn
from .error import Error
from .event import Event
from .event_details import EventDetails
from .event_page import EventPage
from .events import Events
from .evidence_in import EvidenceIn
from .execution_in import ExecutionIn
from .fact_in import FactIn
from .fact_outcome import FactOutcome
from .fact_outcome_error_type_0 import FactOutcomeErrorType0
from .fact_outcome_outcome import FactOutcomeOutcome
from .fact_outcome_response_type_0 import FactOutcomeResponseType0
from .facts_answer import FactsAnswer
from .facts_in import FactsIn
from .facts_in_fact_envelope import FactsInFactEnvelope
from .facts_in_fact_envelope_body_type_0 import FactsInFactEnvelopeBodyType0
from .facts_in_facts_item_type_1 import FactsInFactsItemType1
from .health import Health
from .health_status import HealthStatus
from .instruction import Instruction
from .instruction_details_type_0 import InstructionDetailsType0
from .instruction_page import InstructionPage
from .listed_account import ListedAccount
from .merchant import Merchant
from .merchant_balance import MerchantBalance
from .merchant_in import MerchantIn
from .merchant_patch import MerchantPatch
from .order import Order
from .order_in import OrderIn
from .order_line_in import OrderLineIn
from .order_page import OrderPage
from .order_step import OrderStep
from .order_with_history import OrderWithHistory
from .payment_in import PaymentIn
from .payout_result import PayoutResult
from .payout_run import PayoutRun
from .payout_run_in import PayoutRunIn
from .payout_settings import PayoutSettings
from .payout_settings_in import PayoutSettingsIn
from .problem import Problem
from .product import Product
from .product_in import ProductIn
from .product_page import ProductPage
from .product_patch import ProductPatch
from .promise import Promise
from .promise_disruption import PromiseDisruption
from .promise_running_late import PromiseRunningLate
from .refund_in import RefundIn
from .refund_in_amounts_type_0 import RefundInAmountsType0
from .replay_in import ReplayIn
from .rotate_in import RotateIn
from .shipment_in import ShipmentIn
from .slowdown_answer import SlowdownAnswer
from .slowdown_in import SlowdownIn
from .slowdown_page import SlowdownPage
from .statement import Statement
from .statement_lines import StatementLines
from .sub_order import SubOrder
from .sub_order_terms_at_payment_type_0 import SubOrderTermsAtPaymentType0
from .taken_from_merchant import TakenFromMerchant
from .tier import Tier
from .tier_in import TierIn
from .timer import Timer
from .timer_page import TimerPage
from .timer_payload_type_0 import TimerPayloadType0
from .webhook_delivery import WebhookDelivery
from .webhook_delivery_page import WebhookDeliveryPage
from .webhook_endpoint import WebhookEndpoint
from .webhook_endpoint_page import WebhookEndpointPage
from .webhook_endpoint_with_secret import WebhookEndpointWithSecret

__all__ = (
    "AccountAnswer",
    "AccountPage",
    "Address",
    "AddressIn",
    "Adjustment",
    "AdjustmentIn",
    "AuditEntry",
    "AuditEntryDetailsType0",
    "AuditPage",
    "Badge",
    "BadgeSpell",
    "Balance",
    "Buyer",
    "BuyerIn",
    "Case",
    "CaseActionIn",
    "CaseDetail",
    "CaseIn",
    "CasePage",
    "CasePayment",
    "CaseStep",
    "CaseStepDetailsType0",
    "CaseStepEvidenceType0Item",
    "Change",
    "ChangeChanges",
    "ChangePage",
    "ChangeTerms",
    "Deadline",
    "DisableIn",
    "DisruptionAnswer",
    "DisruptionIn",
    "DisruptionPage",
    "EndpointIn",
    "Error",
    "Event",
    "EventDetails",
    "EventPage",
    "Events",
    "EvidenceIn",
    "ExecutionIn",
    "FactIn",
    "FactOutcome",
    "FactOutcomeErrorType0",
    "FactOutcomeOutcome",
    "FactOutcomeResponseType0",
    "FactsAnswer",
    "FactsIn",
    "FactsInFactEnvelope",
    "FactsInFactEnvelopeBodyType0",
    "FactsInFactsItemType1",
    "Health",
    "HealthStatus",
    "Instruction",
    "InstructionDetailsType0",
    "InstructionPage",
    "ListedAccount",
    "Merchant",
    "MerchantBalance",
    "MerchantIn",
    "MerchantPatch",
    "Order",
    "OrderIn",
    "OrderLineIn",
    "OrderPage",
    "OrderStep",
    "OrderWithHistory",
    "PaymentIn",
    "PayoutResult",
    "PayoutRun",
    "PayoutRunIn",
    "PayoutSettings",
    "PayoutSettingsIn",
    "Problem",
    "Product",
    "ProductIn",
    "ProductPage",
    "ProductPatch",
    "Promise",
    "PromiseDisruption",
    "PromiseRunningLate",
    "RefundIn",
    "RefundInAmountsType0",
    "ReplayIn",
    "RotateIn",
    "ShipmentIn",
    "SlowdownAnswer",
    "SlowdownIn",
    "SlowdownPage",
    "Statement",
    "StatementLines",
    "SubOrder",
    "SubOrderTermsAtPaymentType0",
    "TakenFromMerchant",
    "Tier",
    "TierIn",
    "Timer",
    "TimerPage",
    "TimerPayloadType0",
    "WebhookDelivery",
    "WebhookDeliveryPage",
    "WebhookEndpoint",
    "WebhookEndpointPage",
    "WebhookEndpointWithSecret",
)
