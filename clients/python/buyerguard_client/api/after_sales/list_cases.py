from http import HTTPStatus
from typing import Any

import httpx

from ... import errors
from ...client import AuthenticatedClient, Client
from ...models.case_page import CasePage
from ...models.error import Error
from ...types import UNSET, Response, Unset


def _get_kwargs(
    *,
    order_id: None | str | Unset = UNSET,
    state: None | str | Unset = UNSET,
    party: None | str | Unset = UNSET,
    deadline_before: None | str | Unset = UNSET,
    after: None | str | Unset = UNSET,
    limit: int | Unset = 100,
) -> dict[str, Any]:

    params: dict[str, Any] = {}

    json_order_id: None | str | Unset
    if isinstance(order_id, Unset):
        json_order_id = UNSET
    else:
        json_order_id = order_id
    params["order_id"] = json_order_id

    json_state: None | str | Unset
    if isinstance(state, Unset):
        json_state = UNSET
    else:
        json_state = state
    params["state"] = json_state

    json_party: None | str | Unset
    if isinstance(party, Unset):
        json_party = UNSET
    else:
        json_party = party
    params["party"] = json_party

    json_deadline_before: None | str | Unset
    if isinstance(deadline_before, Unset):
        json_deadline_before = UNSET
    else:
        json_deadline_before = deadline_before
    params["deadline_before"] = json_deadline_before

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
        "url": "/v1/cases",
        "params": params,
    }

    return _kwargs


def _parse_response(*, client: AuthenticatedClient | Client, response: httpx.Response) -> CasePage | Error | None:
    if response.status_code == 200:
        response_200 = CasePage.from_dict(response.json())

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


def _build_response(*, client: AuthenticatedClient | Client, response: httpx.Response) -> Response[CasePage | Error]:
    return Response(
        status_code=HTTPStatus(response.status_code),
        content=response.content,
        headers=response.headers,
        parsed=_parse_response(client=client, response=response),
    )


def sync_detailed(
    *,
    client: AuthenticatedClient,
    order_id: None | str | Unset = UNSET,
    state: None | str | Unset = UNSET,
    party: None | str | Unset = UNSET,
    deadline_before: None | str | Unset = UNSET,
    after: None | str | Unset = UNSET,
    limit: int | Unset = 100,
) -> Response[CasePage | Error]:
    """List Cases

     Cases by id, filtered by order, state, party or a deadline falling before an instant;
    a buyer or a merchant sees its own.

    Args:
        order_id (None | str | Unset): only this order's cases
        state (None | str | Unset): pending, negotiating, accepted, refused, escalated, closed,
            withdrawn
        party (None | str | Unset): buyer:B or merchant:M
        deadline_before (None | str | Unset): cases whose running deadline falls before this
            instant
        after (None | str | Unset): `next_cursor` of the previous page
        limit (int | Unset): most items on this page Default: 100.

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Response[CasePage | Error]
    """

    kwargs = _get_kwargs(
        order_id=order_id,
        state=state,
        party=party,
        deadline_before=deadline_before,
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
    order_id: None | str | Unset = UNSET,
    state: None | str | Unset = UNSET,
    party: None | str | Unset = UNSET,
    deadline_before: None | str | Unset = UNSET,
    after: None | str | Unset = UNSET,
    limit: int | Unset = 100,
) -> CasePage | Error | None:
    """List Cases

     Cases by id, filtered by order, state, party or a deadline falling before an instant;
    a buyer or a merchant sees its own.

    Args:
        order_id (None | str | Unset): only this order's cases
        state (None | str | Unset): pending, negotiating, accepted, refused, escalated, closed,
            withdrawn
        party (None | str | Unset): buyer:B or merchant:M
        deadline_before (None | str | Unset): cases whose running deadline falls before this
            instant
        after (None | str | Unset): `next_cursor` of the previous page
        limit (int | Unset): most items on this page Default: 100.

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        CasePage | Error
    """

    return sync_detailed(
        client=client,
        order_id=order_id,
        state=state,
        party=party,
        deadline_before=deadline_before,
        after=after,
        limit=limit,
    ).parsed


async def asyncio_detailed(
    *,
    client: AuthenticatedClient,
    order_id: None | str | Unset = UNSET,
    state: None | str | Unset = UNSET,
    party: None | str | Unset = UNSET,
    deadline_before: None | str | Unset = UNSET,
    after: None | str | Unset = UNSET,
    limit: int | Unset = 100,
) -> Response[CasePage | Error]:
    """List Cases

     Cases by id, filtered by order, state, party or a deadline falling before an instant;
    a buyer or a merchant sees its own.

    Args:
        order_id (None | str | Unset): only this order's cases
        state (None | str | Unset): pending, negotiating, accepted, refused, escalated, closed,
            withdrawn
        party (None | str | Unset): buyer:B or merchant:M
        deadline_before (None | str | Unset): cases whose running deadline falls before this
            instant
        after (None | str | Unset): `next_cursor` of the previous page
        limit (int | Unset): most items on this page Default: 100.

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Response[CasePage | Error]
    """

    kwargs = _get_kwargs(
        order_id=order_id,
        state=state,
        party=party,
        deadline_before=deadline_before,
        after=after,
        limit=limit,
    )

    response = await client.get_async_httpx_client().request(**kwargs)

    return _build_response(client=client, response=response)


async def asyncio(
    *,
    client: AuthenticatedClient,
    order_id: None | str | Unset = UNSET,
    state: None | str | Unset = UNSET,
    party: None | str | Unset = UNSET,
    deadline_before: None | str | Unset = UNSET,
    after: None | str | Unset = UNSET,
    limit: int | Unset = 100,
) -> CasePage | Error | None:
    """List Cases

     Cases by id, filtered by order, state, party or a deadline falling before an instant;
    a buyer or a merchant sees its own.

    Args:
        order_id (None | str | Unset): only this order's cases
        state (None | str | Unset): pending, negotiating, accepted, refused, escalated, closed,
            withdrawn
        party (None | str | Unset): buyer:B or merchant:M
        deadline_before (None | str | Unset): cases whose running deadline falls before this
            instant
        after (None | str | Unset): `next_cursor` of the previous page
        limit (int | Unset): most items on this page Default: 100.

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        CasePage | Error
    """

    return (
        await asyncio_detailed(
            client=client,
            order_id=order_id,
            state=state,
            party=party,
            deadline_before=deadline_before,
            after=after,
            limit=limit,
        )
    ).parsed
