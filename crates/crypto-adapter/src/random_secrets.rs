use application::ports::SecretGenerator;
use domain::OneTimeSecret;

/// One-time secrets from the operating system's CSPRNG (through `rand`'s
/// thread-local generator, reseeded from the OS).
#[derive(Debug, Default, Clone, Copy)]
pub struct RandomSecrets;

impl SecretGenerator for RandomSecrets {
    fn generate(&self) -> OneTimeSecret {
        OneTimeSecret::from_entropy(rand::random(), rand::random())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_secret_is_new() {
        let a = RandomSecrets.generate();
        let b = RandomSecrets.generate();
        assert_ne!(a.token(), b.token());
        assert_eq!(a.token().len(), OneTimeSecret::TOKEN_CHARS);
        assert_eq!(a.code().len(), 6);
    }
}
