"""Small helpers shared across tempest.

This package stays light: importing it never imports pydantic, SQLAlchemy or FastAPI, nor
bcrypt, PyJWT, pyotp, redis or psutil. The helpers that need them load on first use (PEP 562).
"""

from typing import TYPE_CHECKING, Any

from tempest._lazy import lazy_attributes
from tempest.utils.dicts import modify_dict
from tempest.utils.timezone import to_utc, utcnow

# Public name -> the module that defines it, loaded on first use. The TYPE_CHECKING block
# below imports exactly these names, and __all__ lists them (tests/test_exports.py).
_LAZY: dict[str, str] = {
    "JWTUtils": "tempest.utils.jwt",
    "PasswordUtils": "tempest.utils.passwords",
    "TOTPHelper": "tempest.utils.totp",
    # Defined with the mail battery (which needs only conf); the spec lists it among utils.
    "EmailUtils": "tempest.mail",
    "generate_opaque_token": "tempest.utils.opaque_tokens",
    "hash_opaque_token": "tempest.utils.opaque_tokens",
    "verify_opaque_token": "tempest.utils.opaque_tokens",
    "AttemptThrottle": "tempest.utils.throttle",
    "MemoryThrottleBackend": "tempest.utils.throttle",
    "RedisThrottleBackend": "tempest.utils.throttle",
    "ThrottleBackend": "tempest.utils.throttle",
    "ThrottleResult": "tempest.utils.throttle",
    "ThrottleStatus": "tempest.utils.throttle",
    "ThrottleUnavailableError": "tempest.utils.throttle",
    # Defined with the HTTP layer (it reads ASGI scopes); the spec lists it among utils.
    "get_client_ip": "tempest.utils.client_ip",
    "get_client_ip_from_scope": "tempest.utils.client_ip",
    "CPUMetrics": "tempest.utils.metrics",
    "DiskMetrics": "tempest.utils.metrics",
    "GPUMetrics": "tempest.utils.metrics",
    "MemoryMetrics": "tempest.utils.metrics",
    "MetricsUtils": "tempest.utils.metrics",
    "SystemMetrics": "tempest.utils.metrics",
    "LogUtils": "tempest.utils.logs",
    "safe_extra": "tempest.utils.logs",
    # The outgoing HTTP client (httpx, the `http` extra, loads on first use of HTTPClient).
    "HTTPClient": "tempest.utils.http_client",
    "RetryPolicy": "tempest.utils.http_client",
    "CircuitBreaker": "tempest.utils.http_client",
    "CircuitOpenError": "tempest.utils.http_client",
    "REQUEST_ID_HEADER": "tempest.utils.http_client",
    "get_http_client": "tempest.utils.http_client",
    # Files: checked uploads and guarded downloads (storages live in tempest.storage).
    "UploadUtils": "tempest.utils.uploads",
    "sniff_mime": "tempest.utils.sniffing",
    "DownloadUtils": "tempest.utils.downloads",
    "build_content_disposition": "tempest.utils.downloads",
    # Brazilian documents, phones, CEPs, states and municipalities (tempest.utils.br).
    "CNPJ": "tempest.utils.br.documents",
    "CNPJ_PATTERN": "tempest.utils.br.documents",
    "CPF": "tempest.utils.br.documents",
    "CPFOrCNPJ": "tempest.utils.br.documents",
    "CPF_CNPJ_PATTERN": "tempest.utils.br.documents",
    "CPF_PATTERN": "tempest.utils.br.documents",
    "is_valid_cnpj": "tempest.utils.br.documents",
    "is_valid_cpf": "tempest.utils.br.documents",
    "is_valid_cpf_cnpj": "tempest.utils.br.documents",
    "normalize_cnpj": "tempest.utils.br.documents",
    "normalize_cpf": "tempest.utils.br.documents",
    "normalize_cpf_cnpj": "tempest.utils.br.documents",
    "only_digits": "tempest.utils.br.documents",
    "PHONE_BR_PATTERN": "tempest.utils.br.phone",
    "PhoneBR": "tempest.utils.br.phone",
    "is_valid_phone_br": "tempest.utils.br.phone",
    "normalize_phone_br": "tempest.utils.br.phone",
    "CEP": "tempest.utils.br.cep",
    "CEP_PATTERN": "tempest.utils.br.cep",
    "is_valid_cep": "tempest.utils.br.cep",
    "normalize_cep": "tempest.utils.br.cep",
    "UF": "tempest.utils.br.states",
    "Region": "tempest.utils.br.states",
    "StateBR": "tempest.utils.br.states",
    "UFField": "tempest.utils.br.states",
    "get_state": "tempest.utils.br.states",
    "is_valid_uf": "tempest.utils.br.states",
    "list_states": "tempest.utils.br.states",
    "normalize_uf": "tempest.utils.br.states",
    "states_by_region": "tempest.utils.br.states",
    "CityBR": "tempest.utils.br.cities",
    "CityNameField": "tempest.utils.br.cities",
    "cities_by_uf": "tempest.utils.br.cities",
    "find_city": "tempest.utils.br.cities",
    "get_city": "tempest.utils.br.cities",
    "is_valid_city": "tempest.utils.br.cities",
    "normalize_city": "tempest.utils.br.cities",
}


__all__ = ["modify_dict", "to_utc", "utcnow", *_LAZY]

_load = lazy_attributes(__name__, _LAZY)


def __getattr__(name: str) -> Any:
    return _load(name)


def __dir__() -> list[str]:
    return sorted(__all__)


if TYPE_CHECKING:  # pragma: no cover - the table's names, for type checkers and IDEs
    from tempest.mail import EmailUtils as EmailUtils
    from tempest.utils.br.cep import (
        CEP as CEP,
        CEP_PATTERN as CEP_PATTERN,
        is_valid_cep as is_valid_cep,
        normalize_cep as normalize_cep,
    )
    from tempest.utils.br.cities import (
        CityBR as CityBR,
        CityNameField as CityNameField,
        cities_by_uf as cities_by_uf,
        find_city as find_city,
        get_city as get_city,
        is_valid_city as is_valid_city,
        normalize_city as normalize_city,
    )
    from tempest.utils.br.documents import (
        CNPJ as CNPJ,
        CNPJ_PATTERN as CNPJ_PATTERN,
        CPF as CPF,
        CPF_CNPJ_PATTERN as CPF_CNPJ_PATTERN,
        CPF_PATTERN as CPF_PATTERN,
        CPFOrCNPJ as CPFOrCNPJ,
        is_valid_cnpj as is_valid_cnpj,
        is_valid_cpf as is_valid_cpf,
        is_valid_cpf_cnpj as is_valid_cpf_cnpj,
        normalize_cnpj as normalize_cnpj,
        normalize_cpf as normalize_cpf,
        normalize_cpf_cnpj as normalize_cpf_cnpj,
        only_digits as only_digits,
    )
    from tempest.utils.br.phone import (
        PHONE_BR_PATTERN as PHONE_BR_PATTERN,
        PhoneBR as PhoneBR,
        is_valid_phone_br as is_valid_phone_br,
        normalize_phone_br as normalize_phone_br,
    )
    from tempest.utils.br.states import (
        UF as UF,
        Region as Region,
        StateBR as StateBR,
        UFField as UFField,
        get_state as get_state,
        is_valid_uf as is_valid_uf,
        list_states as list_states,
        normalize_uf as normalize_uf,
        states_by_region as states_by_region,
    )
    from tempest.utils.client_ip import (
        get_client_ip as get_client_ip,
        get_client_ip_from_scope as get_client_ip_from_scope,
    )
    from tempest.utils.downloads import (
        DownloadUtils as DownloadUtils,
        build_content_disposition as build_content_disposition,
    )
    from tempest.utils.http_client import (
        REQUEST_ID_HEADER as REQUEST_ID_HEADER,
        CircuitBreaker as CircuitBreaker,
        CircuitOpenError as CircuitOpenError,
        HTTPClient as HTTPClient,
        RetryPolicy as RetryPolicy,
        get_http_client as get_http_client,
    )
    from tempest.utils.jwt import JWTUtils as JWTUtils
    from tempest.utils.logs import LogUtils as LogUtils, safe_extra as safe_extra
    from tempest.utils.metrics import (
        CPUMetrics as CPUMetrics,
        DiskMetrics as DiskMetrics,
        GPUMetrics as GPUMetrics,
        MemoryMetrics as MemoryMetrics,
        MetricsUtils as MetricsUtils,
        SystemMetrics as SystemMetrics,
    )
    from tempest.utils.opaque_tokens import (
        generate_opaque_token as generate_opaque_token,
        hash_opaque_token as hash_opaque_token,
        verify_opaque_token as verify_opaque_token,
    )
    from tempest.utils.passwords import PasswordUtils as PasswordUtils
    from tempest.utils.sniffing import sniff_mime as sniff_mime
    from tempest.utils.throttle import (
        AttemptThrottle as AttemptThrottle,
        MemoryThrottleBackend as MemoryThrottleBackend,
        RedisThrottleBackend as RedisThrottleBackend,
        ThrottleBackend as ThrottleBackend,
        ThrottleResult as ThrottleResult,
        ThrottleStatus as ThrottleStatus,
        ThrottleUnavailableError as ThrottleUnavailableError,
    )
    from tempest.utils.totp import TOTPHelper as TOTPHelper
    from tempest.utils.uploads import UploadUtils as UploadUtils
