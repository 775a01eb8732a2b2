from http import HTTPStatus
from typing import Any

import httpx

from ... import errors
from ...client import AuthenticatedClient, Client
from ...models.error import Error
from ...models.facts_answer import FactsAnswer
from ...models.facts_in import FactsIn
from ...types import Response


def _get_kwargs(
    *,
    body: FactsIn,
) -> dict[str, Any]:
    headers: dict[str, Any] = {}

    _kwargs: dict[str, Any] = {
        "method": "post",
        "url": "/v1/facts",
    }

    _kwargs["json"] = body.to_dict()

    headers["Content-Type"] = "application/json"

    _kwargs["headers"] = headers
    return _kwargs


def _parse_response(*, client: AuthenticatedClient | Client, response: httpx.Response) -> Error | FactsAnswer | None:
    if response.status_code == 200:
        response_200 = FactsAnswer.from_dict(response.json())

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


def _build_response(*, client: AuthenticatedClient | Client, response: httpx.Response) -> Response[Error | FactsAnswer]:
    return Response(
        status_code=HTTPStatus(response.status_code),
        content=response.content,
        headers=response.headers,
        parsed=_parse_response(client=client, response=response),
    )


def sync_detailed(
    *,
    client: AuthenticatedClient,
    body: FactsIn,
) -> Response[Error | FactsAnswer]:
    """Post Facts

     Up to 1,000 facts, each as on its own route (same body, same key scope); one result
    per fact: applied, replayed, skipped (an earlier fact of its order was refused) or
    refused. Everything applied has committed when the answer is sent.

    Args:
        body (FactsIn): A batch of facts, applied in order.

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Response[Error | FactsAnswer]
    """

    kwargs = _get_kwargs(
        body=body,
    )

    response = client.get_httpx_client().request(
        **kwargs,
    )

    return _build_response(client=client, response=response)


def sync(
    *,
    client: AuthenticatedClient,
    body: FactsIn,
) -> Error | FactsAnswer | None:
    """Post Facts

     Up to 1,000 facts, each as on its own route (same body, same key scope); one result
    per fact: applied, replayed, skipped (an earlier fact of its order was refused) or
    refused. Everything applied has committed when the answer is sent.

    Args:
        body (FactsIn): A batch of facts, applied in order.

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Error | FactsAnswer
    """

    return sync_detailed(
        client=client,
        body=body,
    ).parsed


async def asyncio_detailed(
    *,
    client: AuthenticatedClient,
    body: FactsIn,
) -> Response[Error | FactsAnswer]:
    """Post Facts

     Up to 1,000 facts, each as on its own route (same body, same key scope); one result
    per fact: applied, replayed, skipped (an earlier fact of its order was refused) or
    refused. Everything applied has committed when the answer is sent.

    Args:
        body (FactsIn): A batch of facts, applied in order.

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Response[Error | FactsAnswer]
    """

    kwargs = _get_kwargs(
        body=body,
    )

    response = await client.get_async_httpx_client().request(**kwargs)

    return _build_response(client=client, response=response)


async def asyncio(
    *,
    client: AuthenticatedClient,
    body: FactsIn,
) -> Error | FactsAnswer | None:
    """Post Facts

     Up to 1,000 facts, each as on its own route (same body, same key scope); one result
    per fact: applied, replayed, skipped (an earlier fact of its order was refused) or
    refused. Everything applied has committed when the answer is sent.

    Args:
        body (FactsIn): A batch of facts, applied in order.

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Error | FactsAnswer
    """

    return (
        await asyncio_detailed(
            client=client,
            body=body,
        )
    ).parsed
