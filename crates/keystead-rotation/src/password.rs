//! `GetRandomPassword`'s generator: [`PasswordOptions`] mirrors the operation's parameters and
//! [`generate_password`] draws each character uniformly from keystead's one random source.
//!
//! Uniformity: every draw is an index below the alphabet's size, taken from 32 random bits by
//! rejection sampling (values in the last, incomplete block are redrawn), so no character is
//! favoured. With `RequireEachIncludedType`, one character of each required type is drawn from
//! that type, the rest from the whole alphabet, and the result is Fisher-Yates shuffled with the
//! same unbiased draws.

use zeroize::Zeroizing;

use crate::Error;

const LOWERCASE: &str = "abcdefghijklmnopqrstuvwxyz";
const UPPERCASE: &str = "ABCDEFGHIJKLMNOPQRSTUVWXYZ";
const NUMBERS: &str = "0123456789";
/// The punctuation `GetRandomPassword` uses: ASCII's 32 printable symbols.
const PUNCTUATION: &str = "!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~";

/// Shortest and longest `PasswordLength` (`GetRandomPassword` allows 1 to 4096).
pub const PASSWORD_LENGTH_RANGE: std::ops::RangeInclusive<u32> = 1..=4096;

/// `GetRandomPassword`'s parameters, with AWS's defaults from [`Default`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PasswordOptions {
    /// `PasswordLength`: 1 to 4096, default 32.
    pub length: u32,
    /// `ExcludeCharacters`: characters never used.
    pub exclude_characters: String,
    /// `ExcludeNumbers`: no digits.
    pub exclude_numbers: bool,
    /// `ExcludePunctuation`: none of ``!"#$%&'()*+,-./:;<=>?@[\]^_`{|}~``.
    pub exclude_punctuation: bool,
    /// `ExcludeUppercase`: no `A`-`Z`.
    pub exclude_uppercase: bool,
    /// `ExcludeLowercase`: no `a`-`z`.
    pub exclude_lowercase: bool,
    /// `IncludeSpace`: the space character may appear (default false).
    pub include_space: bool,
    /// `RequireEachIncludedType`: at least one character of each included type among lowercase,
    /// uppercase, numbers and punctuation (default true).
    pub require_each_included_type: bool,
}

impl Default for PasswordOptions {
    fn default() -> Self {
        Self {
            length: 32,
            exclude_characters: String::new(),
            exclude_numbers: false,
            exclude_punctuation: false,
            exclude_uppercase: false,
            exclude_lowercase: false,
            include_space: false,
            require_each_included_type: true,
        }
    }
}

/// A random password following `options`.
///
/// Errors: [`Error::InvalidPasswordLength`] outside 1..=4096; [`Error::NoPasswordCharacters`]
/// when the options exclude every character; [`Error::PasswordTooShort`] when the length cannot
/// hold one character of each required type; [`Error::Random`] if the generator fails.
pub fn generate_password(options: &PasswordOptions) -> Result<Zeroizing<String>, Error> {
    if !PASSWORD_LENGTH_RANGE.contains(&options.length) {
        return Err(Error::InvalidPasswordLength {
            length: options.length,
        });
    }
    let allowed = |c: &char| !options.exclude_characters.contains(*c);
    let mut types: Vec<Vec<char>> = Vec::new();
    for (set, excluded) in [
        (LOWERCASE, options.exclude_lowercase),
        (UPPERCASE, options.exclude_uppercase),
        (NUMBERS, options.exclude_numbers),
        (PUNCTUATION, options.exclude_punctuation),
    ] {
        let chars: Vec<char> = set.chars().filter(allowed).collect();
        if !excluded && !chars.is_empty() {
            types.push(chars);
        }
    }
    let mut alphabet: Vec<char> = types.iter().flatten().copied().collect();
    if options.include_space && allowed(&' ') {
        alphabet.push(' ');
    }
    if alphabet.is_empty() {
        return Err(Error::NoPasswordCharacters);
    }
    let length = options.length as usize;
    let required: &[Vec<char>] = if options.require_each_included_type {
        &types
    } else {
        &[]
    };
    if required.len() > length {
        return Err(Error::PasswordTooShort {
            length: options.length,
            required_types: required.len(),
        });
    }

    let mut draws = Draws::new(length)?;
    let mut chars = Zeroizing::new(Vec::with_capacity(length));
    for set in required {
        chars.push(set[draws.below(set.len())?]);
    }
    while chars.len() < length {
        chars.push(alphabet[draws.below(alphabet.len())?]);
    }
    if !required.is_empty() {
        for i in (1..chars.len()).rev() {
            let j = draws.below(i + 1)?;
            chars.swap(i, j);
        }
    }
    let mut out = Zeroizing::new(String::with_capacity(length));
    out.extend(chars.iter());
    Ok(out)
}

/// Unbiased random indices from a buffer of random bytes, refilled as needed.
struct Draws {
    buffer: Zeroizing<Vec<u8>>,
    position: usize,
}

impl Draws {
    fn new(expected_draws: usize) -> Result<Self, Error> {
        // Two draws per character (plus the shuffle) rarely need a refill.
        let buffer = keystead_crypto::random_bytes(8 * expected_draws.max(4))?;
        Ok(Self {
            buffer,
            position: 0,
        })
    }

    fn next_u32(&mut self) -> Result<u32, Error> {
        if self.position + 4 > self.buffer.len() {
            self.buffer = keystead_crypto::random_bytes(self.buffer.len())?;
            self.position = 0;
        }
        let mut word = [0u8; 4];
        word.copy_from_slice(&self.buffer[self.position..self.position + 4]);
        self.position += 4;
        Ok(u32::from_le_bytes(word))
    }

    /// A uniform index in `0..n` (`n` ≥ 1 and small: at most 4096).
    fn below(&mut self, n: usize) -> Result<usize, Error> {
        let n = n as u64;
        let range = 1u64 << 32;
        // Values at or above `limit` fall in the last incomplete block of `n` and are redrawn.
        let limit = range - range % n;
        loop {
            let value = u64::from(self.next_u32()?);
            if value < limit {
                return Ok((value % n) as usize);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn options() -> PasswordOptions {
        PasswordOptions::default()
    }

    #[test]
    fn the_default_password_is_32_characters_of_every_type() {
        for _ in 0..50 {
            let password = generate_password(&options()).expect("password");
            assert_eq!(password.chars().count(), 32);
            assert!(password.chars().any(|c| c.is_ascii_lowercase()));
            assert!(password.chars().any(|c| c.is_ascii_uppercase()));
            assert!(password.chars().any(|c| c.is_ascii_digit()));
            assert!(password.chars().any(|c| PUNCTUATION.contains(c)));
            assert!(!password.contains(' '));
        }
    }

    #[test]
    fn each_exclusion_removes_its_type() {
        type Case = (fn(&mut PasswordOptions), fn(char) -> bool);
        let cases: [Case; 4] = [
            (|o| o.exclude_numbers = true, |c| c.is_ascii_digit()),
            (
                |o| o.exclude_punctuation = true,
                |c| PUNCTUATION.contains(c),
            ),
            (|o| o.exclude_uppercase = true, |c| c.is_ascii_uppercase()),
            (|o| o.exclude_lowercase = true, |c| c.is_ascii_lowercase()),
        ];
        for (set, forbidden) in cases {
            let mut o = options();
            o.length = 200;
            set(&mut o);
            let password = generate_password(&o).expect("password");
            assert!(!password.chars().any(forbidden), "{o:?}");
            assert_eq!(password.len(), 200);
        }
    }

    #[test]
    fn excluded_characters_never_appear() {
        let mut o = options();
        o.length = 4096;
        o.exclude_characters = ":/@\"'\\abcXYZ019".to_owned();
        let password = generate_password(&o).expect("password");
        assert!(!password.chars().any(|c| o.exclude_characters.contains(c)));
        assert_eq!(password.len(), 4096);
    }

    #[test]
    fn space_appears_only_when_included() {
        let mut o = options();
        o.length = 4096;
        assert!(!generate_password(&o).expect("password").contains(' '));
        o.include_space = true;
        assert!(generate_password(&o).expect("password").contains(' '));
    }

    #[test]
    fn required_types_appear_even_in_the_shortest_password() {
        let mut o = options();
        o.length = 4;
        for _ in 0..200 {
            let password = generate_password(&o).expect("password");
            assert!(password.chars().any(|c| c.is_ascii_lowercase()));
            assert!(password.chars().any(|c| c.is_ascii_uppercase()));
            assert!(password.chars().any(|c| c.is_ascii_digit()));
            assert!(password.chars().any(|c| PUNCTUATION.contains(c)));
        }
    }

    #[test]
    fn without_the_requirement_a_short_password_is_allowed() {
        let mut o = options();
        o.length = 1;
        o.require_each_included_type = false;
        assert_eq!(generate_password(&o).expect("password").len(), 1);
    }

    #[test]
    fn impossible_combinations_are_errors() {
        let mut o = options();
        o.length = 0;
        assert!(matches!(
            generate_password(&o),
            Err(Error::InvalidPasswordLength { length: 0 })
        ));
        o.length = 4097;
        assert!(matches!(
            generate_password(&o),
            Err(Error::InvalidPasswordLength { length: 4097 })
        ));

        let mut o = options();
        o.length = 3;
        assert!(matches!(
            generate_password(&o),
            Err(Error::PasswordTooShort {
                length: 3,
                required_types: 4
            })
        ));

        let mut o = options();
        o.exclude_numbers = true;
        o.exclude_punctuation = true;
        o.exclude_uppercase = true;
        o.exclude_lowercase = true;
        assert!(matches!(
            generate_password(&o),
            Err(Error::NoPasswordCharacters)
        ));
        // Only a space left is still a valid alphabet.
        o.include_space = true;
        assert_eq!(&*generate_password(&o).expect("spaces"), &" ".repeat(32));

        let mut o = options();
        o.exclude_characters = format!("{LOWERCASE}{UPPERCASE}{NUMBERS}{PUNCTUATION}");
        assert!(matches!(
            generate_password(&o),
            Err(Error::NoPasswordCharacters)
        ));
    }

    #[test]
    fn a_type_emptied_by_excluded_characters_is_not_required() {
        let mut o = options();
        o.length = 3;
        o.exclude_characters = NUMBERS.to_owned();
        let password = generate_password(&o).expect("three types fit in three characters");
        assert!(!password.chars().any(|c| c.is_ascii_digit()));
    }

    #[test]
    fn draws_are_roughly_uniform() {
        // 10 digits, 20000 draws: each count should be near 2000; a bias of a few percent
        // (e.g. modulo bias on a byte) would not show here, but a broken index would.
        let mut o = options();
        o.length = 4096;
        o.exclude_lowercase = true;
        o.exclude_uppercase = true;
        o.exclude_punctuation = true;
        let mut counts = [0usize; 10];
        for _ in 0..5 {
            for c in generate_password(&o).expect("digits").chars() {
                counts[c.to_digit(10).expect("digit") as usize] += 1;
            }
        }
        for count in counts {
            assert!((1700..2400).contains(&count), "{counts:?}");
        }
    }
}
