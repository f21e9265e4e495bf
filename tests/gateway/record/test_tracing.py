from graphql import parse
from opentelemetry.sdk.trace import TracerProvider

from gateway.record.tracing import masked_document, tracer_provider_from_env


def test_no_exporter_without_the_standard_settings() -> None:
    assert tracer_provider_from_env({}) is None


def test_otlp_exporter_from_the_standard_settings() -> None:
    provider = tracer_provider_from_env(
        {"OTEL_EXPORTER_OTLP_ENDPOINT": "http://127.0.0.1:4318", "OTEL_SERVICE_NAME": "gw-a"}
    )
    assert isinstance(provider, TracerProvider)
    assert provider.resource.attributes["service.name"] == "gw-a"
    provider.shutdown()


def test_recorded_documents_keep_their_shape_but_not_their_values() -> None:
    text = masked_document(
        parse(
            '{ container(reference: "CSQU3054383") { status } vesselCalls(first: 5, '
            "status: [OMIT]) { totalCount } }"
        )
    )
    assert "CSQU3054383" not in text
    assert "5" not in text
    assert "status: [OMIT]" in text
    assert "container(reference:" in text
