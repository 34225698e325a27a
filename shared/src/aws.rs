//! AWS clients, built once at init.

use std::sync::OnceLock;

use aws_smithy_runtime_api::client::http::{
    HttpClient, HttpConnectorSettings, SharedHttpClient, SharedHttpConnector,
};
use aws_smithy_runtime_api::client::runtime_components::RuntimeComponents;

/// An SQS client from the standard chain: region, credentials, and `AWS_ENDPOINT_URL` (which
/// points it at a local server in development and tests).
pub async fn sqs_client() -> aws_sdk_sqs::Client {
    aws_sdk_sqs::Client::new(&sdk_config().await)
}

/// The SDK settings every client is built from (see [`sqs_client`]), with [`LazyHttps`].
pub async fn sdk_config() -> aws_config::SdkConfig {
    use aws_config::environment::{
        EnvironmentVariableCredentialsProvider, EnvironmentVariableRegionProvider,
    };
    let mut loader = aws_config::defaults(aws_config::BehaviorVersion::latest())
        .http_client(LazyHttps::default());
    // Where the environment has them (always, in Lambda), the default chains would stop at
    // the environment anyway; naming it skips building the chains' other providers at init.
    if std::env::var_os("AWS_ACCESS_KEY_ID").is_some() {
        loader = loader.credentials_provider(EnvironmentVariableCredentialsProvider::new());
    }
    if std::env::var_os("AWS_REGION").is_some() {
        loader = loader.region(EnvironmentVariableRegionProvider::new());
    }
    loader.load().await
}

/// The SDK's HTTPS client, built on its first request rather than at init: a worker calls SQS
/// only when a record fails, and the SDK's default client reads the system trust store at
/// client init (every file under `/etc/ssl/certs` on Debian), which was most of each
/// function's cold start.
#[derive(Debug, Default)]
struct LazyHttps(OnceLock<SharedHttpClient>);

impl HttpClient for LazyHttps {
    fn http_connector(
        &self,
        settings: &HttpConnectorSettings,
        components: &RuntimeComponents,
    ) -> SharedHttpConnector {
        self.0
            .get_or_init(https_client)
            .http_connector(settings, components)
    }
}

/// rustls on ring (as reqwest and sqlx use), trusting the Mozilla root set compiled into the
/// binary.
fn https_client() -> SharedHttpClient {
    use aws_smithy_http_client::tls::{self, TlsContext, TrustStore, rustls_provider::CryptoMode};
    let roots = webpki_root_certs::TLS_SERVER_ROOT_CERTS
        .iter()
        .fold(TrustStore::empty(), |store, cert| {
            store.with_pem_certificate(pem_certificate(cert))
        });
    let builder = aws_smithy_http_client::Builder::new()
        .tls_provider(tls::Provider::Rustls(CryptoMode::Ring));
    match TlsContext::builder().with_trust_store(roots).build() {
        Ok(context) => builder.tls_context(context).build_https(),
        // Not reachable with this version (building a context checks nothing); the system
        // store is still a working client.
        Err(err) => {
            tracing::warn!(error = %err, "compiled-in TLS roots unusable, using the system store");
            builder.build_https()
        }
    }
}

/// One DER certificate as PEM, the only form the SDK's trust store takes.
fn pem_certificate(der: &[u8]) -> String {
    use base64::Engine as _;
    let body = base64::engine::general_purpose::STANDARD.encode(der);
    let mut pem = String::with_capacity(body.len() + body.len() / 64 + 60);
    pem.push_str("-----BEGIN CERTIFICATE-----\n");
    for line in body.as_bytes().chunks(64) {
        pem.push_str(&String::from_utf8_lossy(line));
        pem.push('\n');
    }
    pem.push_str("-----END CERTIFICATE-----\n");
    pem
}

/// A one-line description of an SDK error: the service's code and message when the service
/// answered, else the error chain (never the raw response, which can be large).
pub fn describe<E, R>(err: &aws_sdk_sqs::error::SdkError<E, R>) -> String
where
    E: aws_sdk_sqs::error::ProvideErrorMetadata + std::error::Error + 'static,
    R: std::fmt::Debug,
{
    match err.as_service_error() {
        Some(service) => format!(
            "{}: {}",
            service.code().unwrap_or("unknown error"),
            service.message().unwrap_or_default()
        ),
        None => aws_sdk_sqs::error::DisplayErrorContext(err).to_string(),
    }
}

#[cfg(test)]
mod tests {
    use base64::Engine as _;

    #[test]
    fn pem_certificates_decode_to_the_compiled_in_roots() {
        assert!(webpki_root_certs::TLS_SERVER_ROOT_CERTS.len() > 100);
        for der in webpki_root_certs::TLS_SERVER_ROOT_CERTS {
            let pem = super::pem_certificate(der);
            let lines: Vec<&str> = pem.lines().collect();
            assert_eq!(lines.first(), Some(&"-----BEGIN CERTIFICATE-----"));
            assert_eq!(lines.last(), Some(&"-----END CERTIFICATE-----"));
            let body = &lines[1..lines.len() - 1];
            assert!(body.iter().all(|line| line.len() <= 64));
            let decoded = base64::engine::general_purpose::STANDARD
                .decode(body.concat())
                .unwrap();
            assert_eq!(decoded, der.as_ref());
        }
    }
}
