//! The words of the pages, in Polish and English.

use crate::mail::Lang;
use std::collections::BTreeMap;

pub type Words = BTreeMap<&'static str, &'static str>;

pub fn words(lang: Lang) -> Words {
    let pl = lang == Lang::Pl;
    let pick = |pl_text, en_text| if pl { pl_text } else { en_text };
    BTreeMap::from([
        ("language", pick("Język", "Language")),
        ("sign_in_title", pick("Zaloguj się", "Sign in")),
        ("sign_up_title", pick("Załóż konto", "Sign up")),
        ("sign_in", pick("Zaloguj", "Sign in")),
        ("sign_up", pick("Załóż konto", "Sign up")),
        ("login", pick("E-mail lub nazwa użytkownika", "Email or username")),
        ("password", pick("Hasło", "Password")),
        (
            "remember_me",
            pick("Zapamiętaj mnie na 30 dni", "Remember me for 30 days"),
        ),
        ("forgot", pick("Nie pamiętasz hasła?", "Forgot your password?")),
        ("no_account", pick("Nie masz konta?", "No account yet?")),
        (
            "have_account",
            pick("Masz już konto? Zaloguj się", "Have an account? Sign in"),
        ),
        (
            "have_code",
            pick("Mam kod weryfikacyjny", "I have a verification code"),
        ),
        (
            "username_optional",
            pick("Nazwa użytkownika (opcjonalnie)", "Username (optional)"),
        ),
        (
            "verify_title",
            pick("Potwierdź adres e-mail", "Confirm your email address"),
        ),
        (
            "link_intro",
            pick(
                "Kliknij, aby potwierdzić adres.",
                "Press the button to confirm your address.",
            ),
        ),
        (
            "code_intro",
            pick(
                "Wpisz adres i kod z wiadomości.",
                "Enter your address and the code from the message.",
            ),
        ),
        ("email", pick("Adres e-mail", "Email address")),
        ("code", pick("Kod", "Code")),
        ("confirm", pick("Potwierdź", "Confirm")),
        (
            "verified_notice",
            pick(
                "Adres potwierdzony. Możesz się zalogować.",
                "Your address is confirmed. You can sign in now.",
            ),
        ),
        (
            "mail_sent",
            pick(
                "Wysłaliśmy wiadomość z kodem i linkiem. Potwierdź adres, a potem się zaloguj.",
                "We sent you a message with a code and a link. Confirm your address, then sign in.",
            ),
        ),
        (
            "invalid",
            pick(
                "Ten kod lub link jest nieprawidłowy albo został już użyty.",
                "This code or link is not valid or was already used.",
            ),
        ),
        (
            "expired",
            pick(
                "Ten kod lub link wygasł. Poproś o nowy.",
                "This code or link has expired. Ask for a new one.",
            ),
        ),
        (
            "attempts",
            pick(
                "Zbyt wiele błędnych prób. Poproś o nowy kod.",
                "Too many wrong tries. Ask for a new code.",
            ),
        ),
        (
            "missing",
            pick("To pole jest wymagane.", "This field is required."),
        ),
        ("reset_title", pick("Ustaw nowe hasło", "Set a new password")),
        ("new_password", pick("Nowe hasło", "New password")),
        ("current_password", pick("Obecne hasło", "Current password")),
        (
            "password_hint",
            pick(
                "Od 8 do 128 znaków; nie może być popularnym hasłem.",
                "8 to 128 characters; not a commonly used password.",
            ),
        ),
        ("save", pick("Zapisz", "Save")),
        (
            "reset_done",
            pick(
                "Hasło zmienione. Zaloguj się nowym hasłem; inne sesje zostały zakończone.",
                "Password changed. Sign in with the new one; every other session was signed out.",
            ),
        ),
        (
            "reset_invalid",
            pick("Ten link jest nieprawidłowy.", "This link is not valid."),
        ),
        (
            "reset_expired",
            pick(
                "Ten link wygasł. Poproś o nowy.",
                "This link has expired. Ask for a new one.",
            ),
        ),
        (
            "reset_used",
            pick("Ten link został już użyty.", "This link was already used."),
        ),
        (
            "password_length",
            pick(
                "Hasło musi mieć od 8 do 128 znaków.",
                "The password must be 8 to 128 characters long.",
            ),
        ),
        (
            "password_common",
            pick(
                "To hasło jest zbyt popularne. Wybierz inne.",
                "This password is too common. Choose another one.",
            ),
        ),
        (
            "bad_email",
            pick(
                "To nie jest poprawny adres e-mail.",
                "This is not a valid email address.",
            ),
        ),
        (
            "bad_username",
            pick(
                "Od 3 do 32 liter, cyfr lub podkreśleń.",
                "3 to 32 letters, digits or underscores.",
            ),
        ),
        (
            "email_taken",
            pick(
                "Konto z tym adresem już istnieje.",
                "An account with this address already exists.",
            ),
        ),
        (
            "username_taken",
            pick("Ta nazwa jest zajęta.", "This name is taken."),
        ),
        (
            "wrong_credentials",
            pick("Nieprawidłowy login lub hasło.", "Wrong login or password."),
        ),
        ("not_verified", pick("niepotwierdzony", "not verified")),
        (
            "verify_first",
            pick(
                "Najpierw potwierdź adres e-mail: kod i link są w wiadomości od nas.",
                "Confirm your email address first: the code and link are in our message.",
            ),
        ),
        (
            "disabled",
            pick("To konto jest zablokowane.", "This account is disabled."),
        ),
        (
            "too_many",
            pick(
                "Zbyt wiele nieudanych prób. Spróbuj za chwilę.",
                "Too many failed attempts. Try again shortly.",
            ),
        ),
        (
            "wrong_current",
            pick(
                "Obecne hasło jest nieprawidłowe.",
                "The current password is wrong.",
            ),
        ),
        ("forgot_title", pick("Odzyskaj hasło", "Recover your password")),
        (
            "forgot_intro",
            pick(
                "Podaj adres konta, a wyślemy link do ustawienia nowego hasła.",
                "Enter your account's address and we will send a link to set a new password.",
            ),
        ),
        ("send_link", pick("Wyślij link", "Send the link")),
        (
            "forgot_sent",
            pick(
                "Jeśli konto z tym adresem istnieje, wysłaliśmy do niego link.",
                "If an account has this address, we sent it a link.",
            ),
        ),
        ("back_to_sign_in", pick("Wróć do logowania", "Back to sign-in")),
        ("back_to_account", pick("Wróć do konta", "Back to my account")),
        ("account_title", pick("Moje konto", "My account")),
        ("my_data", pick("Moje dane", "My data")),
        ("nickname", pick("Nazwa użytkownika", "Username")),
        (
            "set_nickname",
            pick("Ustaw nazwę użytkownika", "Set your username"),
        ),
        ("roles", pick("Role", "Roles")),
        ("member_since", pick("Konto od", "Member since")),
        ("verified", pick("potwierdzony", "verified")),
        ("change_password", pick("Zmień hasło", "Change password")),
        (
            "password_changed",
            pick(
                "Hasło zmienione; inne sesje zostały zakończone.",
                "Password changed; every other session was signed out.",
            ),
        ),
        (
            "nickname_saved",
            pick("Nazwa użytkownika zapisana.", "Username saved."),
        ),
        ("my_sessions", pick("Moje sesje", "My sessions")),
        ("unknown_device", pick("Nieznane urządzenie", "Unknown device")),
        ("last_used", pick("ostatnio", "last used")),
        ("this_device", pick("to urządzenie", "this device")),
        ("sign_out_this", pick("Wyloguj", "Sign out")),
        (
            "sign_out_others",
            pick("Wyloguj wszystkie inne urządzenia", "Sign out all other devices"),
        ),
        (
            "others_signed_out",
            pick(
                "Inne urządzenia zostały wylogowane.",
                "Every other device was signed out.",
            ),
        ),
        (
            "session_signed_out",
            pick("Sesja zakończona.", "That session was signed out."),
        ),
        ("sign_out", pick("Wyloguj się", "Sign out")),
        ("sign_out_title", pick("Wylogowanie", "Sign out")),
        ("signed_out", pick("Wylogowano.", "You are signed out.")),
        ("csrf_title", pick("Żądanie odrzucone", "Request refused")),
        (
            "csrf",
            pick(
                "Ten formularz wygasł lub nie pochodzi z tej strony. Wróć, odśwież stronę i spróbuj ponownie.",
                "This form has expired or did not come from this site. Go back, reload the page and try again.",
            ),
        ),
        (
            "unavailable",
            pick(
                "Usługa jest chwilowo niedostępna. Spróbuj za chwilę.",
                "The service is briefly unavailable. Try again shortly.",
            ),
        ),
        (
            "error",
            pick(
                "Coś poszło nie tak. Spróbuj ponownie.",
                "Something went wrong. Please try again.",
            ),
        ),
    ])
}
