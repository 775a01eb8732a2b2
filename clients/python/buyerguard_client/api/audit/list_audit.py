from http import HTTPStatus
from typing import Any

import httpx

from ... import errors
from ...client import AuthenticatedClient, Client
from ...models.audit_page import AuditPage
from ...models.error import Error
from ...types import UNSET, Response, Unset


def _get_kwargs(
    *,
    subject: None | str | Unset = UNSET,
    actor: None | str | Unset = UNSET,
    since: None | str | Unset = UNSET,
    until: None | str | Unset = UNSET,
    after: int | None | Unset = UNSET,
    limit: int | Unset = 100,
) -> dict[str, Any]:

    params: dict[str, Any] = {}

    json_subject: None | str | Unset
    if isinstance(subject, Unset):
        json_subject = UNSET
    else:
        json_subject = subject
    params["subject"] = json_subject

    json_actor: None | str | Unset
    if isinstance(actor, Unset):
        json_actor = UNSET
    else:
        json_actor = actor
    params["actor"] = json_actor

    json_since: None | str | Unset
    if isinstance(since, Unset):
        json_since = UNSET
    else:
        json_since = since
    params["since"] = json_since

    json_until: None | str | Unset
    if isinstance(until, Unset):
        json_until = UNSET
    else:
        json_until = until
    params["until"] = json_until

    json_after: int | None | Unset
    if isinstance(after, Unset):
        json_after = UNSET
    else:
        json_after = after
    params["after"] = json_after

    params["limit"] = limit

    params = {k: v for k, v in params.items() if v is not UNSET and v is not None}

    _kwargs: dict[str, Any] = {
        "method": "get",
        "url": "/v1/audit",
        "params": params,
    }

    return _kwargs


def _parse_response(*, client: AuthenticatedClient | Client, response: httpx.Response) -> AuditPage | Error | None:
    if response.status_code == 200:
        response_200 = AuditPage.from_dict(response.json())

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


def _build_response(*, client: AuthenticatedClient | Client, response: httpx.Response) -> Response[AuditPage | Error]:
    return Response(
        status_code=HTTPStatus(response.status_code),
        content=response.content,
        headers=response.headers,
        parsed=_parse_response(client=client, response=response),
    )


def sync_detailed(
    *,
    client: AuthenticatedClient,
    subject: None | str | Unset = UNSET,
    actor: None | str | Unset = UNSET,
    since: None | str | Unset = UNSET,
    until: None | str | Unset = UNSET,
    after: int | None | Unset = UNSET,
    limit: int | Unset = 100,
) -> Response[AuditPage | Error]:
    """List Audit

     What every command recorded (who, with which token, what, about what, when), in the
    order it was written.

    Args:
        subject (None | str | Unset): what it was about: an order, case, merchant… id
        actor (None | str | Unset): who: e.g. marketplace, merchant:M1, scheduler
        since (None | str | Unset): recorded at or after (ISO-8601)
        until (None | str | Unset): recorded before (ISO-8601)
        after (int | None | Unset): `next_cursor`
        limit (int | Unset): most items on this page Default: 100.

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Response[AuditPage | Error]
    """

    kwargs = _get_kwargs(
        subject=subject,
        actor=actor,
        since=since,
        until=until,
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
    subject: None | str | Unset = UNSET,
    actor: None | str | Unset = UNSET,
    since: None | str | Unset = UNSET,
    until: None | str | Unset = UNSET,
    after: int | None | Unset = UNSET,
    limit: int | Unset = 100,
) -> AuditPage | Error | None:
    """List Audit

     What every command recorded (who, with which token, what, about what, when), in the
    order it was written.

    Args:
        subject (None | str | Unset): what it was about: an order, case, merchant… id
        actor (None | str | Unset): who: e.g. marketplace, merchant:M1, scheduler
        since (None | str | Unset): recorded at or after (ISO-8601)
        until (None | str | Unset): recorded before (ISO-8601)
        after (int | None | Unset): `next_cursor`
        limit (int | Unset): most items on this page Default: 100.

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        AuditPage | Error
    """

    return sync_detailed(
        client=client,
        subject=subject,
        actor=actor,
        since=since,
        until=until,
        after=after,
        limit=limit,
    ).parsed


async def asyncio_detailed(
    *,
    client: AuthenticatedClient,
    subject: None | str | Unset = UNSET,
    actor: None | str | Unset = UNSET,
    since: None | str | Unset = UNSET,
    until: None | str | Unset = UNSET,
    after: int | None | Unset = UNSET,
    limit: int | Unset = 100,
) -> Response[AuditPage | Error]:
    """List Audit

     What every command recorded (who, with which token, what, about what, when), in the
    order it was written.

    Args:
        subject (None | str | Unset): what it was about: an order, case, merchant… id
        actor (None | str | Unset): who: e.g. marketplace, merchant:M1, scheduler
        since (None | str | Unset): recorded at or after (ISO-8601)
        until (None | str | Unset): recorded before (ISO-8601)
        after (int | None | Unset): `next_cursor`
        limit (int | Unset): most items on this page Default: 100.

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Response[AuditPage | Error]
    """

    kwargs = _get_kwargs(
        subject=subject,
        actor=actor,
        since=since,
        until=until,
        after=after,
        limit=limit,
    )

    response = await client.get_async_httpx_client().request(**kwargs)

    return _build_response(client=client, response=response)


async def asyncio(
    *,
    client: AuthenticatedClient,
    subject: None | str | Unset = UNSET,
    actor: None | str | Unset = UNSET,
    since: None | str | Unset = UNSET,
    until: None | str | Unset = UNSET,
    after: int | None | Unset = UNSET,
    limit: int | Unset = 100,
) -> AuditPage | Error | None:
    """List Audit

     What every command recorded (who, with which token, what, about what, when), in the
    order it was written.

    Args:
        subject (None | str | Unset): what it was about: an order, case, merchant… id
        actor (None | str | Unset): who: e.g. marketplace, merchant:M1, scheduler
        since (None | str | Unset): recorded at or after (ISO-8601)
        until (None | str | Unset): recorded before (ISO-8601)
        after (int | None | Unset): `next_cursor`
        limit (int | Unset): most items on this page Default: 100.

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        AuditPage | Error
    """

    return (
        await asyncio_detailed(
            client=client,
            subject=subject,
            actor=actor,
            since=since,
            until=until,
            after=after,
            limit=limit,
        )
    ).parsed
