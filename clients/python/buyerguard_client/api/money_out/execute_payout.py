from http import HTTPStatus
from typing import Any
from urllib.parse import quote

import httpx

from ... import errors
from ...client import AuthenticatedClient, Client
from ...models.error import Error
from ...models.execution_in import ExecutionIn
from ...models.instruction import Instruction
from ...types import UNSET, Response, Unset


def _get_kwargs(
    payout_id: str,
    *,
    body: ExecutionIn,
    idempotency_key: str | Unset = UNSET,
) -> dict[str, Any]:
    headers: dict[str, Any] = {}
    if not isinstance(idempotency_key, Unset):
        headers["Idempotency-Key"] = idempotency_key

    _kwargs: dict[str, Any] = {
        "method": "post",
        "url": "/v1/payouts/{payout_id}/execution".format(
            payout_id=quote(str(payout_id), safe=""),
        ),
    }

    _kwargs["json"] = body.to_dict()

    headers["Content-Type"] = "application/json"

    _kwargs["headers"] = headers
    return _kwargs


def _parse_response(*, client: AuthenticatedClient | Client, response: httpx.Response) -> Error | Instruction | None:
    if response.status_code == 200:
        response_200 = Instruction.from_dict(response.json())

        return response_200

    if response.status_code == 401:
        response_401 = Error.from_dict(response.json())

        return response_401

    if response.status_code == 403:
        response_403 = Error.from_dict(response.json())

        return response_403

    if response.status_code == 404:
        response_404 = Error.from_dict(response.json())

        return response_404

    if response.status_code == 409:
        response_409 = Error.from_dict(response.json())

        return response_409

    if response.status_code == 422:
        response_422 = Error.from_dict(response.json())

        return response_422

    if response.status_code == 503:
        response_503 = Error.from_dict(response.json())

        return response_503

    if client.raise_on_unexpected_status:
        raise errors.UnexpectedStatus(response.status_code, response.content)
    else:
        return None


def _build_response(*, client: AuthenticatedClient | Client, response: httpx.Response) -> Response[Error | Instruction]:
    return Response(
        status_code=HTTPStatus(response.status_code),
        content=response.content,
        headers=response.headers,
        parsed=_parse_response(client=client, response=response),
    )


def sync_detailed(
    payout_id: str,
    *,
    client: AuthenticatedClient,
    body: ExecutionIn,
    idempotency_key: str | Unset = UNSET,
) -> Response[Error | Instruction]:
    """Execute Payout

     Report a payout `executed` or `failed` (with a reason: its money returns to the
    merchant's payable for the next run). Final: the same report again answers as before.

    Args:
        payout_id (str): payout id (an instruction of kind payout)
        idempotency_key (str | Unset):
        body (ExecutionIn): The marketplace's report of an instruction it was given (a payout, a
            refund…).

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Response[Error | Instruction]
    """

    kwargs = _get_kwargs(
        payout_id=payout_id,
        body=body,
        idempotency_key=idempotency_key,
    )

    response = client.get_httpx_client().request(
        **kwargs,
    )

    return _build_response(client=client, response=response)


def sync(
    payout_id: str,
    *,
    client: AuthenticatedClient,
    body: ExecutionIn,
    idempotency_key: str | Unset = UNSET,
) -> Error | Instruction | None:
    """Execute Payout

     Report a payout `executed` or `failed` (with a reason: its money returns to the
    merchant's payable for the next run). Final: the same report again answers as before.

    Args:
        payout_id (str): payout id (an instruction of kind payout)
        idempotency_key (str | Unset):
        body (ExecutionIn): The marketplace's report of an instruction it was given (a payout, a
            refund…).

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Error | Instruction
    """

    return sync_detailed(
        payout_id=payout_id,
        client=client,
        body=body,
        idempotency_key=idempotency_key,
    ).parsed


async def asyncio_detailed(
    payout_id: str,
    *,
    client: AuthenticatedClient,
    body: ExecutionIn,
    idempotency_key: str | Unset = UNSET,
) -> Response[Error | Instruction]:
    """Execute Payout

     Report a payout `executed` or `failed` (with a reason: its money returns to the
    merchant's payable for the next run). Final: the same report again answers as before.

    Args:
        payout_id (str): payout id (an instruction of kind payout)
        idempotency_key (str | Unset):
        body (ExecutionIn): The marketplace's report of an instruction it was given (a payout, a
            refund…).

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Response[Error | Instruction]
    """

    kwargs = _get_kwargs(
        payout_id=payout_id,
        body=body,
        idempotency_key=idempotency_key,
    )

    response = await client.get_async_httpx_client().request(**kwargs)

    return _build_response(client=client, response=response)


async def asyncio(
    payout_id: str,
    *,
    client: AuthenticatedClient,
    body: ExecutionIn,
    idempotency_key: str | Unset = UNSET,
) -> Error | Instruction | None:
    """Execute Payout

     Report a payout `executed` or `failed` (with a reason: its money returns to the
    merchant's payable for the next run). Final: the same report again answers as before.

    Args:
        payout_id (str): payout id (an instruction of kind payout)
        idempotency_key (str | Unset):
        body (ExecutionIn): The marketplace's report of an instruction it was given (a payout, a
            refund…).

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Error | Instruction
    """

    return (
        await asyncio_detailed(
            payout_id=payout_id,
            client=client,
            body=body,
            idempotency_key=idempotency_key,
        )
    ).parsed
