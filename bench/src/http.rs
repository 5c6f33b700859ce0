//! A lean HTTP/1.1 client for the gateway: one keep-alive connection per load worker, so the
//! figures measure the gateway and the functions, not a client's pool.

use std::net::SocketAddr;

use bytes::Bytes;
use http::{Request, StatusCode};
use http_body_util::{BodyExt, Full};
use hyper::client::conn::http1::SendRequest;
use hyper_util::rt::TokioIo;
use tokio::sync::Mutex;

pub struct Client {
    addr: SocketAddr,
    conns: Vec<Mutex<Option<SendRequest<Full<Bytes>>>>>,
}

async fn connect(addr: SocketAddr) -> Result<SendRequest<Full<Bytes>>, String> {
    let stream = tokio::net::TcpStream::connect(addr)
        .await
        .map_err(|e| format!("connect {addr}: {e}"))?;
    let _ = stream.set_nodelay(true);
    let (send, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .map_err(|e| format!("handshake: {e}"))?;
    tokio::spawn(conn);
    Ok(send)
}

impl Client {
    pub fn new(addr: SocketAddr, workers: usize) -> Self {
        Self {
            addr,
            conns: (0..workers.max(1)).map(|_| Mutex::new(None)).collect(),
        }
    }

    /// Sends on `worker`'s connection, (re)connecting when it has none or it broke.
    pub async fn send(
        &self,
        worker: usize,
        req: Request<Full<Bytes>>,
    ) -> Result<(StatusCode, Bytes), String> {
        let mut slot = self.conns[worker % self.conns.len()].lock().await;
        let usable = slot.as_ref().is_some_and(|s| !s.is_closed());
        if !usable {
            *slot = Some(connect(self.addr).await?);
        }
        let Some(send) = slot.as_mut() else {
            return Err("no connection".into());
        };
        send.ready().await.map_err(|e| e.to_string())?;
        let response = match send.send_request(req).await {
            Ok(r) => r,
            Err(e) => {
                *slot = None;
                return Err(e.to_string());
            }
        };
        let status = response.status();
        let body = response
            .into_body()
            .collect()
            .await
            .map_err(|e| e.to_string())?
            .to_bytes();
        Ok((status, body))
    }
}
