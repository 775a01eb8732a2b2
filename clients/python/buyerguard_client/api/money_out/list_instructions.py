from http import HTTPStatus
from typing import Any

import httpx

from ... import errors
from ...client import AuthenticatedClient, Client
from ...models.error import Error
from ...models.instruction_page import InstructionPage
from ...types import UNSET, Response, Unset


def _get_kwargs(
    *,
    state: None | str | Unset = UNSET,
    kind: None | str | Unset = UNSET,
    party: None | str | Unset = UNSET,
    after: None | str | Unset = UNSET,
    limit: int | Unset = 100,
) -> dict[str, Any]:

    params: dict[str, Any] = {}

    json_state: None | str | Unset
    if isinstance(state, Unset):
        json_state = UNSET
    else:
        json_state = state
    params["state"] = json_state

    json_kind: None | str | Unset
    if isinstance(kind, Unset):
        json_kind = UNSET
    else:
        json_kind = kind
    params["kind"] = json_kind

    json_party: None | str | Unset
    if isinstance(party, Unset):
        json_party = UNSET
    else:
        json_party = party
    params["party"] = json_party

    json_after: None | str | Unset
    if isinstance(after, Unset):
        json_after = UNSET
    else:
        json_after = after
    params["after"] = json_after

    params["limit"] = limit

    params = {k: v for k, v in params.items() if v is not UNSET and v is not None}

    _kwargs: dict[str, Any] = {
        "method": "get",
        "url": "/v1/instructions",
        "params": params,
    }

    return _kwargs


def _parse_response(
    *, client: AuthenticatedClient | Client, response: httpx.Response
) -> Error | InstructionPage | None:
    if response.status_code == 200:
        response_200 = InstructionPage.from_dict(response.json())

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


def _build_response(
    *, client: AuthenticatedClient | Client, response: httpx.Response
) -> Response[Error | InstructionPage]:
    return Response(
        status_code=HTTPStatus(response.status_code),
        content=response.content,
        headers=response.headers,
        parsed=_parse_response(client=client, response=response),
    )


def sync_detailed(
    *,
    client: AuthenticatedClient,
    state: None | str | Unset = UNSET,
    kind: None | str | Unset = UNSET,
    party: None | str | Unset = UNSET,
    after: None | str | Unset = UNSET,
    limit: int | Unset = 100,
) -> Response[Error | InstructionPage]:
    """List Instructions

     Every instruction to pay out; `state=overdue` lists those without an outcome after
    `instructions.overdue_after_hours`.

    Args:
        state (None | str | Unset): instructed, executed, failed, or overdue (instructed and past
            its time)
        kind (None | str | Unset): payout, refund, compensation, carrier_subsidy
        party (None | str | Unset): only those paying this party: merchant:M1, buyer:B1,
            carrier:SF…
        after (None | str | Unset): `next_cursor` of the previous page
        limit (int | Unset): most items on this page Default: 100.

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Response[Error | InstructionPage]
    """

    kwargs = _get_kwargs(
        state=state,
        kind=kind,
        party=party,
        after=after,
        limit=limit,
    )

    response = client.get_httpx_client().request(
        **kwargs,
    )

    return _build_response(client=client, response=response)


def sync(
    *,
    client: AuthenticatedClient,
    state: None | str | Unset = UNSET,
    kind: None | str | Unset = UNSET,
    party: None | str | Unset = UNSET,
    after: None | str | Unset = UNSET,
    limit: int | Unset = 100,
) -> Error | InstructionPage | None:
    """List Instructions

     Every instruction to pay out; `state=overdue` lists those without an outcome after
    `instructions.overdue_after_hours`.

    Args:
        state (None | str | Unset): instructed, executed, failed, or overdue (instructed and past
            its time)
        kind (None | str | Unset): payout, refund, compensation, carrier_subsidy
        party (None | str | Unset): only those paying this party: merchant:M1, buyer:B1,
            carrier:SF…
        after (None | str | Unset): `next_cursor` of the previous page
        limit (int | Unset): most items on this page Default: 100.

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Error | InstructionPage
    """

    return sync_detailed(
        client=client,
        state=state,
        kind=kind,
        party=party,
        after=after,
        limit=limit,
    ).parsed


async def asyncio_detailed(
    *,
    client: AuthenticatedClient,
    state: None | str | Unset = UNSET,
    kind: None | str | Unset = UNSET,
    party: None | str | Unset = UNSET,
    after: None | str | Unset = UNSET,
    limit: int | Unset = 100,
) -> Response[Error | InstructionPage]:
    """List Instructions

     Every instruction to pay out; `state=overdue` lists those without an outcome after
    `instructions.overdue_after_hours`.

    Args:
        state (None | str | Unset): instructed, executed, failed, or overdue (instructed and past
            its time)
        kind (None | str | Unset): payout, refund, compensation, carrier_subsidy
        party (None | str | Unset): only those paying this party: merchant:M1, buyer:B1,
            carrier:SF…
        after (None | str | Unset): `next_cursor` of the previous page
        limit (int | Unset): most items on this page Default: 100.

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Response[Error | InstructionPage]
    """

    kwargs = _get_kwargs(
        state=state,
        kind=kind,
        party=party,
        after=after,
        limit=limit,
    )

    response = await client.get_async_httpx_client().request(**kwargs)

    return _build_response(client=client, response=response)


async def asyncio(
    *,
    client: AuthenticatedClient,
    state: None | str | Unset = UNSET,
    kind: None | str | Unset = UNSET,
    party: None | str | Unset = UNSET,
    after: None | str | Unset = UNSET,
    limit: int | Unset = 100,
) -> Error | InstructionPage | None:
    """List Instructions

     Every instruction to pay out; `state=overdue` lists those without an outcome after
    `instructions.overdue_after_hours`.

    Args:
        state (None | str | Unset): instructed, executed, failed, or overdue (instructed and past
            its time)
        kind (None | str | Unset): payout, refund, compensation, carrier_subsidy
        party (None | str | Unset): only those paying this party: merchant:M1, buyer:B1,
            carrier:SF…
        after (None | str | Unset): `next_cursor` of the previous page
        limit (int | Unset): most items on this page Default: 100.

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Error | InstructionPage
    """

    return (
        await asyncio_detailed(
            client=client,
            state=state,
            kind=kind,
            party=party,
            after=after,
            limit=limit,
        )
    ).parsed
