//! `localaws`: the AWS resources of the local stack in moto, and tokens (local_gateway::localaws).

use std::process::ExitCode;

use local_gateway::localaws::{LocalAws, say};

const USAGE: &str = "\
usage: localaws setup               user pool, user app client, group admin, users user and admin,
                                    resource server crud-master and its scopes, the machine client,
                                    the billing dead-letter queue; writes .local/cognito.env and
                                    .local/sqs.env (idempotent)
       localaws token [USER] [--id] an access token (an id token with --id) of USER (default user),
                                    and nothing else on stdout
       localaws machine-token [SCOPE...]
                                    a client-credentials access token of the machine client
                                    (movies.read or crud-master/movies.read; default every scope)
       localaws signing-key         the PEM of the key moto signs every pool's tokens with
Reads AWS_ENDPOINT_URL and AWS_REGION (.local/env); LOCALAWS_STATE_DIR, LOCALAWS_POOL_NAME and
LOCALAWS_DLQ_NAME give a pool of one's own.";

#[tokio::main(flavor = "current_thread")]
async fn main() -> ExitCode {
    settings::install_crypto_provider();
    let args: Vec<String> = std::env::args().skip(1).collect();
    let aws = LocalAws::from_env();
    if matches!(args.first().map(String::as_str), Some("-h" | "--help")) {
        println!("{USAGE}");
        return ExitCode::SUCCESS;
    }
    let Some(printed) = aws.run(&args).await else {
        eprintln!("{USAGE}");
        return ExitCode::from(2);
    };
    match printed {
        Ok(Some(out)) => {
            println!("{}", out.trim_end());
            ExitCode::SUCCESS
        }
        Ok(None) => ExitCode::SUCCESS,
        Err(e) => {
            say(&e.to_string());
            ExitCode::FAILURE
        }
    }
}
